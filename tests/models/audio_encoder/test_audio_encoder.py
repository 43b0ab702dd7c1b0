"""HookedAudioEncoder (wav2vec2 / HuBERT) against HF transformers on tiny random checkpoints:
outputs, every layer's residual stream, loading, framed input, hooks and input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import Wav2Vec2ForPreTraining, Wav2Vec2ForSequenceClassification

from hooked_audio.audio import Audio
from hooked_audio.audio.errors import AudioInputError
from hooked_audio.models.audio_encoder import (
    AudioEncoderStream,
    HookedAudioEncoder,
    HookedAudioEncoderConfig,
    frames_to_waveform,
    waveform_to_frames,
)
from hooked_audio.models.audio_encoder.hf_config import config_from_hf
from hooked_audio.streams import AudioStream
from tests.helpers.audio_encoder_models import (
    N_POS,
    N_SAMPLES,
    VOCAB,
    base_of,
    hf_config,
    hf_output,
    random_hf,
    waveforms,
)

# (architecture, CTC head, do_stable_layer_norm, feat_extract_norm, extra HF options)
VARIANTS = [
    ("wav2vec2", False, False, "group", {}),
    ("wav2vec2", False, True, "layer", {}),
    ("wav2vec2", True, False, "layer", {"num_conv_pos_embeddings": 15}),
    ("wav2vec2", True, True, "group", {"conv_bias": False}),
    ("hubert", False, False, "group", {"feat_proj_layer_norm": False}),
    ("hubert", False, True, "layer", {}),
    ("hubert", True, False, "group", {}),
    ("hubert", True, True, "layer", {"layer_norm_eps": 1e-6}),
]


def _ids(variant):
    arch, ctc, stable, norm, extra = variant
    return f"{arch}-{'ctc' if ctc else 'model'}-{'preLN' if stable else 'postLN'}-{norm}" + (
        "-" + "-".join(extra) if extra else ""
    )


def _last_block_output(model) -> str:
    last = model.cfg.n_layers - 1
    if model.config.do_stable_layer_norm:
        return f"blocks.{last}.hook_resid_post"
    return f"blocks.{last}.hook_normalized_resid_post"


@pytest.mark.parametrize("variant", VARIANTS, ids=[_ids(v) for v in VARIANTS])
def test_parity_with_hf(variant):
    arch, ctc, stable, norm, extra = variant
    hf = random_hf(arch, ctc, stable, norm, seed=len(extra) + 3 * stable, **extra)
    model = HookedAudioEncoder.from_hf(hf)
    wave = waveforms(seed=1, batch=2, n_samples=N_SAMPLES + 123)[0]
    with torch.no_grad():
        out, cache = model.run_with_cache(wave)
        hf_out = hf(wave, output_hidden_states=True)
        hf_base = base_of(hf)(wave)
    expected = hf_out.logits if ctc else hf_out.last_hidden_state
    assert out.shape == (2, N_POS, VOCAB if ctc else 32)
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=0)
    assert expected.abs().max() > 0.5  # a comparison of substance, not of near-zeros
    # HF's hidden_states[l] is the input of layer l; the last one is the last layer's output
    # (before the final LayerNorm of pre-LN checkpoints).
    hidden = hf_out.hidden_states
    assert len(hidden) == model.cfg.n_layers + 1
    for l in range(model.cfg.n_layers):
        torch.testing.assert_close(
            cache[f"blocks.{l}.hook_resid_pre"], hidden[l], atol=1e-4, rtol=0
        )
    torch.testing.assert_close(cache[_last_block_output(model)], hidden[-1], atol=1e-4, rtol=0)
    final = "ln_final.hook_normalized" if stable else _last_block_output(model)
    torch.testing.assert_close(cache[final], hf_base.last_hidden_state, atol=1e-4, rtol=0)
    # The stem and embeddings, as HF's own modules compute them.
    with torch.no_grad():
        features = base_of(hf).feature_extractor(wave).transpose(1, 2)
        projection = base_of(hf).feature_projection(features)
        embed = projection[0] if isinstance(projection, tuple) else projection
    torch.testing.assert_close(
        cache["feature_extractor.conv_layers.6.hook_out"], features, atol=1e-4, rtol=0
    )
    torch.testing.assert_close(cache["hook_embed"], embed, atol=1e-4, rtol=0)


@pytest.mark.parametrize("stable,norm", [(False, "group"), (True, "layer")])
def test_padded_batch_with_attention_mask_matches_hf(stable, norm):
    hf = random_hf("wav2vec2", True, stable, norm, seed=5)
    model = HookedAudioEncoder.from_hf(hf)
    wave = waveforms(seed=2, batch=2)[0]
    mask = torch.ones_like(wave, dtype=torch.long)
    mask[1, 1100:] = 0
    wave[1, 1100:] = 0.0
    with torch.no_grad():
        ours = model(wave, attention_mask=mask)
    torch.testing.assert_close(ours, hf_output(hf, wave, mask), atol=1e-4, rtol=0)
    with torch.no_grad():
        unmasked = model(wave)
    assert (ours[1] - unmasked[1]).abs().max() > 1e-3  # the mask does act
    torch.testing.assert_close(ours[0], unmasked[0], atol=1e-5, rtol=0)


def test_from_pretrained_after_save_pretrained(tmp_path):
    wave = waveforms(seed=3)[0]
    for name, hf in {
        "ctc": random_hf("hubert", True, True, "layer", seed=7),
        "model": random_hf("wav2vec2", False, False, "group", seed=8),
    }.items():
        hf.save_pretrained(tmp_path / name)
        model = HookedAudioEncoder.from_pretrained(tmp_path / name)
        assert not model.training
        with torch.no_grad():
            torch.testing.assert_close(model(wave), hf_output(hf, wave), atol=1e-4, rtol=0)
    # A pre-training checkpoint (the usual wav2vec2-base release) loads its encoder.
    torch.manual_seed(0)
    pretraining = Wav2Vec2ForPreTraining(hf_config("wav2vec2")).eval()
    pretraining.save_pretrained(tmp_path / "pretraining")
    model = HookedAudioEncoder.from_pretrained(tmp_path / "pretraining")
    assert model.unembed is None
    with torch.no_grad():
        torch.testing.assert_close(
            model(wave), pretraining.wav2vec2(wave).last_hidden_state, atol=1e-4, rtol=0
        )


def test_from_pretrained_refuses_other_heads_and_missing_directories(tmp_path):
    torch.manual_seed(0)
    classifier = Wav2Vec2ForSequenceClassification(
        hf_config("wav2vec2", use_weighted_layer_sum=True)
    )
    classifier.save_pretrained(tmp_path / "classifier")
    with pytest.raises(ValueError, match="use_weighted_layer_sum.*from_hf\\(hf_model.wav2vec2\\)"):
        HookedAudioEncoder.from_pretrained(tmp_path / "classifier")
    with pytest.raises(TypeError, match="hf_model.wav2vec2"):
        HookedAudioEncoder.from_hf(classifier)
    with pytest.raises(FileNotFoundError, match="No config.json.*save_pretrained"):
        HookedAudioEncoder.from_pretrained(tmp_path / "nowhere")


@pytest.mark.parametrize(
    "option,value",
    [
        ("feat_extract_norm", "batch"),
        ("add_adapter", True),
        ("adapter_attn_dim", 8),
        ("hidden_act", "relu"),
        ("feat_extract_activation", "swish"),
        ("conv_pos_batch_norm", True),
        ("num_feat_extract_layers", 6),
    ],
)
def test_unsupported_configs_are_refused_by_name(option, value):
    config = hf_config("hubert" if option == "conv_pos_batch_norm" else "wav2vec2")
    setattr(config, option, value)
    with pytest.raises(ValueError, match=f"config.{option}="):
        config_from_hf(config)


@pytest.mark.parametrize("family", ["wav2vec2", "hubert"])
def test_options_are_whitelisted(family):
    """Any option neither implemented nor known to be irrelevant is refused by name when it
    differs from the config class's default (a Conformer's rotary positions, a new norm);
    training-time options change nothing and load."""
    config = hf_config(family)
    config.hidden_dropout, config.mask_time_prob = 0.3, 0.5
    assert config_from_hf(config) == config_from_hf(hf_config(family))
    for option, value in [("position_embeddings_type", "rotary"), ("layer_norm_first", True)]:
        config = hf_config(family)
        setattr(config, option, value)
        with pytest.raises(ValueError, match=f"does not implement.*{option}={value!r}"):
            config_from_hf(config)


def test_weight_norm_kernel_is_read_once_as_its_effective_value():
    hf = random_hf("wav2vec2", False, False, "group", seed=9)
    conv = base_of(hf).encoder.pos_conv_embed.conv
    g = conv.parametrizations.weight.original0
    v = conv.parametrizations.weight.original1
    effective = g * v / v.norm(dim=(0, 1), keepdim=True)
    model = HookedAudioEncoder.from_hf(hf)
    torch.testing.assert_close(model.pos_conv.weight, effective)
    assert not any("original" in name for name, _ in model.named_parameters())


# ------------------------------------------------------------------------- inputs
@pytest.fixture(scope="module")
def model():
    return HookedAudioEncoder.from_hf(random_hf("wav2vec2", True, False, "group", seed=4))


def test_numpy_and_one_dimensional_inputs(model):
    wave = waveforms(seed=6)[0]
    with torch.no_grad():
        expected = model(wave)
        torch.testing.assert_close(model(wave[0]), expected)
        torch.testing.assert_close(model(wave[0].double().numpy()), expected)
        torch.testing.assert_close(model(wave, sample_rate=16000), expected)
        # (2, samples) is a batch of two clips.
        pair = torch.cat([wave, waveforms(seed=7)[0]])
        torch.testing.assert_close(model(pair)[:1], expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "bad,error,message",
    [
        (torch.zeros(2, 3, 1000), AudioInputError, "shape \\(samples,\\) or \\(batch, samples\\)"),
        (torch.zeros(1, 0), AudioInputError, "empty"),
        (torch.zeros(0), AudioInputError, "empty"),
        (torch.zeros(399), AudioInputError, "399 samples.*at least 400 samples"),
        (
            torch.zeros(500).index_fill(0, torch.tensor([7]), float("nan")),
            AudioInputError,
            "1 NaN or infinite",
        ),
        (torch.full((2, 500), float("inf")), AudioInputError, "1000 NaN or infinite"),
        (torch.zeros(1000, dtype=torch.int16), TypeError, "dtype torch.int16.*32768"),
        (np.zeros(1000, dtype=np.int32), TypeError, "dtype torch.int32"),
        (torch.zeros(16000, 2), AudioInputError, "looks like stereo.*x.mean\\(-1\\)"),
        ([0.0] * 1000, TypeError, "torch tensor or numpy array, got list"),
        ("clip.wav", TypeError, "is a path.*load_audio"),
    ],
)
def test_input_errors_name_the_problem(model, bad, error, message):
    with pytest.raises(error, match=message):
        model(bad)


def test_sample_rate_and_attention_mask_errors(model):
    wave = waveforms(seed=6)[0]
    with pytest.raises(AudioInputError, match="at 44100 Hz.*16000 Hz.*load_audio"):
        model(wave, sample_rate=44100)
    with pytest.raises(AudioInputError, match="sample_rate must be a positive int"):
        model(wave, sample_rate=16000.5)
    clip = Audio(wave[0].numpy(), 16000)
    with torch.no_grad():
        torch.testing.assert_close(model(clip), model(wave))
    with pytest.raises(AudioInputError, match="at 8000 Hz"):
        model(Audio(wave[0].numpy(), 8000))
    with pytest.raises(AudioInputError, match="carries sample_rate=16000"):
        model.to_frames(clip, sample_rate=8000)
    with pytest.raises(AudioInputError, match="attention_mask has shape"):
        model(wave, attention_mask=torch.ones(1, 10))
    with pytest.raises(AudioInputError, match="only 0 and 1"):
        model(wave, attention_mask=torch.full_like(wave, 2))
    left_padded = torch.ones_like(wave)
    left_padded[:, :100] = 0
    with pytest.raises(AudioInputError, match="not right-padded"):
        model(wave, attention_mask=left_padded)
    short = torch.ones_like(wave)
    short[:, 300:] = 0
    with pytest.raises(AudioInputError, match="300 real samples"):
        model(wave, attention_mask=short)


# ------------------------------------------------------------------------- framed audio
def test_conv_stack_arithmetic():
    cfg = HookedAudioEncoderConfig()
    assert (cfg.hop_length, cfg.receptive_field, cfg.seconds_per_position) == (320, 400, 0.02)
    assert [cfg.n_positions(n) for n in (399, 400, 719, 720, 16000)] == [0, 1, 1, 2, 49]
    assert cfg.n_samples_used(49) == 49 * 320 + 80


def test_frames_layout_and_inverse(model):
    wave = waveforms(seed=8, batch=2, n_samples=N_SAMPLES + 200)[0]
    frames = model.to_frames(wave)
    assert frames.shape == (2, 400, N_POS)
    for p in range(N_POS):
        torch.testing.assert_close(frames[:, :, p], wave[:, 320 * p : 320 * p + 400])
    back = model.from_frames(frames)
    torch.testing.assert_close(back, wave[:, :N_SAMPLES])
    torch.testing.assert_close(waveform_to_frames(back, 320, 400), frames)
    torch.testing.assert_close(frames_to_waveform(frames, 320), back)
    with pytest.raises(ValueError, match="framed audio \\(batch, 400, pos\\)"):
        model.from_frames(frames[:, :320])


def test_stream_view_runs_the_framed_waveform():
    layer_model = HookedAudioEncoder.from_hf(random_hf("hubert", False, True, "layer", seed=2))
    group_model = HookedAudioEncoder.from_hf(random_hf("wav2vec2", True, False, "group", seed=2))
    wave = waveforms(seed=9, n_samples=N_SAMPLES + 250)[0]
    with torch.no_grad():
        for model in (layer_model, group_model):
            view = model.encoder_stream()
            frames = model.to_frames(wave)
            torch.testing.assert_close(view(frames), model(model.from_frames(frames)))
            torch.testing.assert_close(view(frames), model(wave[:, :N_SAMPLES]))
        # Samples that reach no position change nothing when every norm is per position...
        torch.testing.assert_close(
            layer_model.encoder_stream()(layer_model.to_frames(wave)),
            layer_model(wave),
            atol=1e-5,
            rtol=0,
        )
        # ...but enter the clip-wide statistics of the first conv layer of "group" checkpoints.
        assert (group_model(wave) - group_model(wave[:, :N_SAMPLES])).abs().max() > 1e-4
    with pytest.raises(ValueError, match="framed audio \\(batch, 400, pos\\).*to_frames"):
        group_model.encoder_stream()(wave)


# ------------------------------------------------------------------------- hooks and views
def test_hooks_are_time_major_and_named_like_transformer_lens(model):
    wave = waveforms(seed=10, batch=2)[0]
    with torch.no_grad():
        _, cache = model.run_with_cache(wave)
    frames = [2000 // 5 - 1]
    for kernel, stride in zip((3, 3, 3, 3, 2, 2), (2, 2, 2, 2, 2, 2)):
        frames.append((frames[-1] - kernel) // stride + 1)
    assert frames[-1] == N_POS
    for i, n_frames in enumerate(frames):
        assert cache[f"feature_extractor.conv_layers.{i}.hook_out"].shape == (2, n_frames, 16)
    assert cache["feature_extractor.conv_layers.0.norm.hook_scale"].shape == (2, 1, 16)
    d_model, n_heads = 32, 4
    shapes = {
        "hook_embed": (2, N_POS, d_model),
        "hook_pos_embed": (2, N_POS, d_model),
        "ln_embed.hook_normalized": (2, N_POS, d_model),
        "feature_projection.ln.hook_normalized": (2, N_POS, 16),
        "blocks.1.attn.hook_q": (2, N_POS, n_heads, 8),
        "blocks.1.attn.hook_z": (2, N_POS, n_heads, 8),
        "blocks.1.ln1.hook_scale": (2, N_POS, 1),
        "blocks.1.mlp.hook_post": (2, N_POS, 64),
    }
    for name in (
        "hook_resid_pre",
        "hook_attn_out",
        "hook_resid_mid",
        "hook_mlp_out",
        "hook_resid_post",
        "hook_normalized_resid_post",
        "ln1.hook_normalized",
        "ln2.hook_normalized",
    ):
        shapes[f"blocks.0.{name}"] = (2, N_POS, d_model)
    for name, shape in shapes.items():
        assert cache[name].shape == shape, name
    assert cache["blocks.0.attn.hook_pattern"].shape == (2, 4, N_POS, N_POS)
    assert model.hook_dict["blocks.1.attn.hook_q"].layer() == 1


def test_pattern_hooks_materialise_without_changing_the_output(model):
    wave = waveforms(seed=11)[0]
    with torch.no_grad():
        fused = model(wave)
        out, cache = model.run_with_cache(wave, names_filter=lambda n: n.endswith("hook_pattern"))
    torch.testing.assert_close(out, fused, atol=1e-5, rtol=0)
    pattern = cache["blocks.0.attn.hook_pattern"]
    assert pattern.shape == (1, 4, N_POS, N_POS)
    torch.testing.assert_close(pattern.sum(-1), torch.ones(1, 4, N_POS))


def test_per_head_results_sum_to_the_attention_output(model):
    wave = waveforms(seed=12)[0]
    model.set_use_attn_result(True)
    try:
        with torch.no_grad():
            _, cache = model.run_with_cache(wave)
    finally:
        model.set_use_attn_result(False)
    block = model.blocks[1]
    torch.testing.assert_close(
        cache["blocks.1.attn.hook_result"].sum(2) + block.attn.b_O,
        cache["blocks.1.hook_attn_out"],
        atol=1e-5,
        rtol=0,
    )


def test_stream_view_protocol_and_attention_internals():
    from transformer_lens.model_protocol import TransformerLensModel

    wave = waveforms(seed=13)[0]
    for stable in (False, True):
        model = HookedAudioEncoder.from_hf(random_hf("wav2vec2", True, stable, "layer", seed=1))
        view = model.encoder_stream()
        assert isinstance(view, AudioEncoderStream)
        assert isinstance(view, AudioStream) and isinstance(view, TransformerLensModel)
        assert not any(name.startswith("feature_extractor.") for name in view.hook_dict)
        assert view.causal is False and view.cfg.n_layers == 2
        with torch.no_grad():
            _, cache = view.run_with_cache(model.to_frames(wave))
            for layer in range(2):
                q, k = view.query_key(layer, cache[f"blocks.{layer}.hook_resid_pre"])
                torch.testing.assert_close(q, cache[f"blocks.{layer}.attn.hook_q"])
                torch.testing.assert_close(
                    view.key_heads(layer, k), cache[f"blocks.{layer}.attn.hook_k"]
                )
        assert view.W_U.shape == (32, VOCAB)
        assert view.input_seconds(model.to_frames(wave)) is None  # nothing padded
        padded = torch.cat([wave[:, :1000], torch.zeros(1, N_SAMPLES - 1000)], dim=1)
        assert view.input_seconds(model.to_frames(padded)) == pytest.approx(1000 / 16000)
        if stable:  # the residual stream is a sum of component outputs
            parts = cache.decompose_resid(layer=2, return_labels=False)
            torch.testing.assert_close(
                parts.sum(0), cache["blocks.1.hook_resid_post"], atol=1e-5, rtol=0
            )
            bias = view.accumulated_bias(1, mlp_input=True)
            blocks = model.blocks
            torch.testing.assert_close(
                bias, blocks[0].attn.b_O + blocks[0].mlp.b_out + blocks[1].attn.b_O
            )
        else:
            with pytest.raises(ValueError, match="post-LN"):
                view.accumulated_bias(1)
    with pytest.raises(TypeError, match="takes audio, not text tokens"):
        view.to_tokens("hello")


def test_random_model_from_a_config():
    config = HookedAudioEncoderConfig(
        architecture="hubert",
        d_model=32,
        n_layers=1,
        n_heads=4,
        d_mlp=64,
        conv_dim=(8,) * 7,
        num_conv_pos_embeddings=4,
        num_conv_pos_embedding_groups=2,
        vocab_size=5,
    )
    model = HookedAudioEncoder(config, seed=0)
    assert model.cfg.d_vocab == 5 and model.cfg.normalization_type is None
    with torch.no_grad():
        out = model(torch.randn(1, 1000))
    assert out.shape == (1, 2, 5) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="feat_extract_norm must be one of"):
        HookedAudioEncoderConfig(feat_extract_norm="batch")


def test_checkpoints_with_nonfinite_weights_are_refused(tmp_path):
    hf = random_hf("wav2vec2", True, True, "layer", seed=2)
    with torch.no_grad():
        base_of(hf).encoder.layers[1].attention.q_proj.weight[0, 0] = float("inf")
    with pytest.raises(ValueError, match="NaN or infinite.*layers.1.attention.q_proj.weight"):
        HookedAudioEncoder.from_hf(hf)
    hf.save_pretrained(tmp_path / "bad")
    with pytest.raises(ValueError, match="NaN or infinite"):
        HookedAudioEncoder.from_pretrained(tmp_path / "bad")
