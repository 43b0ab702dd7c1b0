"""HookedAudioLM against HF transformers' Qwen2-Audio and Voxtral (tiny random configs)."""

from __future__ import annotations

import pytest
import torch

from hooked_audio.models.audio_lm import HookedAudioLM
from hooked_audio.models.audio_lm.config import HookedAudioLMConfig
from tests.helpers.audio_lm_models import (
    AUDIO_TOKEN,
    hooked,
    qwen2_audio_hf,
    qwen2_audio_inputs,
    voxtral_hf,
    voxtral_inputs,
)


def _valid_close(ours: torch.Tensor, ref: torch.Tensor, mask: torch.Tensor, atol: float) -> None:
    valid = mask.bool()
    assert ref[valid].abs().max() > 0.1  # the comparison is not between near-zero tensors
    torch.testing.assert_close(ours[valid], ref[valid], atol=atol, rtol=0)


@pytest.mark.parametrize(
    "shape",
    [
        dict(n_heads=6, n_kv_heads=2),
        dict(n_heads=4, n_kv_heads=4),
        dict(n_heads=8, n_kv_heads=1, d_model=64, n_layers=3),
    ],
)
def test_qwen2_audio_logits_match_hf(shape):
    hf = qwen2_audio_hf(**shape)
    model = hooked(hf)
    inputs = qwen2_audio_inputs(mel_lengths=[80], text_lengths=[7])
    with torch.no_grad():
        ref = hf(**inputs).logits
        ours = model(**inputs)
    _valid_close(ours, ref, inputs["attention_mask"], atol=1e-4)


@pytest.mark.parametrize("left_pad", [True, False])
def test_qwen2_audio_batch_of_different_lengths_matches_hf(left_pad):
    """Clips of 0.8, 0.5 and 0.23 s (padding masked in the tower) in prompts of different
    lengths (padding masked in the language model)."""
    hf = qwen2_audio_hf(seed=1)
    model = hooked(hf)
    inputs = qwen2_audio_inputs(
        mel_lengths=[80, 50, 23], text_lengths=[7, 4, 9], seed=3, left_pad=left_pad
    )
    with torch.no_grad():
        ref = hf(**inputs).logits
        ours = model(**inputs)
    _valid_close(ours, ref, inputs["attention_mask"], atol=1e-4)
    # each row on its own gives the same logits as in the batch (padding changes nothing)
    for i in range(3):
        row = {k: v[i : i + 1] for k, v in inputs.items()}
        keep = row["attention_mask"][0].bool()
        alone = {**row, "input_ids": row["input_ids"][:, keep], "attention_mask": None}
        with torch.no_grad():
            single = model(**alone)
        torch.testing.assert_close(single[0], ours[i][keep], atol=1e-4, rtol=0)


@pytest.mark.parametrize("head_dim", [12, 16])
def test_voxtral_logits_match_hf(head_dim):
    """Voxtral: frame-stacking projector (4 x 20 ms), Llama decoder, head_dim independent of
    hidden_size / heads (16 * 6 heads = 96 != 48)."""
    hf = voxtral_hf(head_dim=head_dim)
    model = hooked(hf)
    inputs = voxtral_inputs()
    with torch.no_grad():
        ref = hf(**inputs).logits
        ours = model(**inputs)
    _valid_close(ours, ref, torch.ones_like(inputs["input_ids"]), atol=1e-4)


def test_residual_stream_matches_hf_hidden_states():
    hf = qwen2_audio_hf()
    model = hooked(hf)
    inputs = qwen2_audio_inputs([80], [7])
    with torch.no_grad():
        hidden = hf(**inputs, output_hidden_states=True).hidden_states
        _, cache = model.run_with_cache(**inputs)
    for layer in range(model.cfg.n_layers):
        torch.testing.assert_close(
            cache[f"blocks.{layer}.hook_resid_pre"], hidden[layer], atol=1e-5, rtol=0
        )
    torch.testing.assert_close(cache["hook_audio_embed"], cache["blocks.0.hook_resid_pre"])
    audio = model.audio_positions(inputs["input_ids"])
    torch.testing.assert_close(cache["hook_audio_embed"][audio], cache["projector.hook_out"][0])
    text = ~audio
    torch.testing.assert_close(cache["hook_audio_embed"][text], cache["hook_embed"][text])


def test_hook_names_follow_transformer_lens():
    model = hooked(qwen2_audio_hf())
    names = set(model.hook_dict)
    for name in (
        "hook_embed",
        "hook_audio_embed",
        "blocks.0.hook_resid_pre",
        "blocks.1.attn.hook_rot_q",
        "blocks.1.attn.hook_pattern",
        "blocks.0.mlp.hook_pre_linear",
        "blocks.0.ln1.hook_scale",
        "ln_final.hook_normalized",
        "projector.hook_out",
        "audio_encoder.hook_conv2",
        "audio_encoder.blocks.1.attn.hook_z",
        "audio_encoder.hook_pooled",
    ):
        assert name in names
    with pytest.raises(KeyError, match="Did you mean 'blocks.0.hook_resid_pre'"):
        model.run_with_hooks(
            **qwen2_audio_inputs([80], [7]),
            fwd_hooks=[("blocks.0.hook_resid_pr", lambda x, hook: x)],
        )


def test_grouped_keys_and_pattern_path_equal_fused_path():
    model = hooked(qwen2_audio_hf())
    inputs = qwen2_audio_inputs([80, 40], [7, 5], seed=2)
    with torch.no_grad():
        fused = model(**inputs)
        logits, cache = model.run_with_cache(**inputs)
    valid = inputs["attention_mask"].bool()
    torch.testing.assert_close(logits[valid], fused[valid], atol=1e-5, rtol=0)
    assert cache["blocks.0.attn.hook_k"].shape[2] == model.cfg.n_key_value_heads
    assert cache["blocks.0.attn.hook_q"].shape[2] == model.cfg.n_heads
    pattern = cache["blocks.0.attn.hook_pattern"]
    torch.testing.assert_close(
        pattern.sum(-1)[valid[:, None].expand(-1, pattern.shape[1], -1)],
        torch.ones(pattern.shape[:3])[valid[:, None].expand(-1, pattern.shape[1], -1)],
    )
    # causal: nothing after the query, nothing on left padding
    assert pattern[0].triu(1).abs().max() == 0
    assert pattern[1][:, valid[1]][..., ~valid[1]].abs().max() == 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_runs_close_to_float32(dtype):
    hf = qwen2_audio_hf()
    model = hooked(hf)
    inputs = qwen2_audio_inputs([80, 50], [7, 4], seed=4)
    with torch.no_grad():
        ref = model(**inputs)
        half = hooked(hf.to(dtype))
        assert next(half.parameters()).dtype == dtype and half.cfg.dtype == dtype
        out = half(**inputs)
    valid = inputs["attention_mask"].bool()
    assert out.dtype == dtype and torch.isfinite(out[valid]).all()
    scale = ref[valid].abs().max()
    assert (out.float()[valid] - ref[valid]).abs().max() < 0.05 * scale
    assert (out.float()[valid].argmax(-1) == ref[valid].argmax(-1)).float().mean() > 0.9


def test_random_model_runs_and_layers_matter():
    model = HookedAudioLM(hooked(qwen2_audio_hf()).config, seed=0)
    inputs = qwen2_audio_inputs([80], [7])
    with torch.no_grad():
        logits = model(**inputs)
        ablated = model.run_with_hooks(
            **inputs, fwd_hooks=[("blocks.0.hook_attn_out", lambda x, hook: torch.zeros_like(x))]
        )
    assert torch.isfinite(logits).all() and not torch.allclose(logits, ablated)


# ------------------------------------------------------------------ bad input
@pytest.fixture(scope="module")
def qwen():
    return hooked(qwen2_audio_hf())


def test_error_wrong_mel_count(qwen):
    inputs = qwen2_audio_inputs([80], [7])
    with pytest.raises(ValueError, match="takes 16 mel bins, the input has 80"):
        qwen(**{**inputs, "input_features": torch.zeros(1, 80, 80)})
    with pytest.raises(ValueError, match="exactly 80 mel frames"):
        qwen(
            **{
                **inputs,
                "input_features": inputs["input_features"][..., :60],
                "feature_attention_mask": None,
            }
        )


def test_error_nan_audio(qwen):
    inputs = qwen2_audio_inputs([80], [7])
    inputs["input_features"][0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        qwen(**inputs)


def test_error_placeholders(qwen):
    inputs = qwen2_audio_inputs([80], [7])
    no_audio_ids = inputs["input_ids"].masked_fill(inputs["input_ids"] == AUDIO_TOKEN, 5)
    with pytest.raises(ValueError, match="no audio placeholder"):
        qwen(**{**inputs, "input_ids": no_audio_ids})
    one_placeholder = torch.tensor([[1, 2, AUDIO_TOKEN, 3]])
    with pytest.raises(ValueError, match="1 audio placeholder tokens but the audio gives 20"):
        qwen(
            input_ids=one_placeholder,
            input_features=inputs["input_features"],
            feature_attention_mask=inputs["feature_attention_mask"],
        )
    with pytest.raises(ValueError, match="no input_features were given"):
        qwen(input_ids=inputs["input_ids"])


def test_error_empty_clip_and_bad_masks(qwen):
    inputs = qwen2_audio_inputs([80], [7])
    with pytest.raises(ValueError, match="audio is empty"):
        qwen(
            **{
                **inputs,
                "feature_attention_mask": torch.zeros_like(inputs["feature_attention_mask"]),
            }
        )
    with pytest.raises(ValueError, match="attention_mask covers 5 positions"):
        qwen(**{**inputs, "attention_mask": torch.ones(1, 5, dtype=torch.long)})
    with pytest.raises(ValueError, match="feature_attention_mask has shape"):
        qwen(**{**inputs, "feature_attention_mask": torch.ones(2, 80, dtype=torch.long)})


def test_error_voxtral_feature_mask():
    model = hooked(voxtral_hf())
    inputs = voxtral_inputs()
    with pytest.raises(ValueError, match="Voxtral takes no feature_attention_mask"):
        model(**inputs, feature_attention_mask=torch.ones(1, 80, dtype=torch.long))


def test_from_pretrained_directory_with_and_without_processor(tmp_path):
    from tests.helpers.audio_lm_processor import tiny_processor

    hf = qwen2_audio_hf(seed=2)
    hf.save_pretrained(tmp_path / "weights_only")
    model = HookedAudioLM.from_pretrained(str(tmp_path / "weights_only"))
    inputs = qwen2_audio_inputs([80, 50], [7, 4])
    with torch.no_grad():
        _valid_close(model(**inputs), hf(**inputs).logits, inputs["attention_mask"], atol=1e-4)
    assert model.processor is None
    hf.save_pretrained(tmp_path / "full")
    tiny_processor().save_pretrained(tmp_path / "full")
    model = HookedAudioLM.from_pretrained(str(tmp_path / "full"))
    assert model.processor is not None and model.to_single_token("<|AUDIO|>") == AUDIO_TOKEN
    with pytest.raises(ValueError, match="qwen2"):
        from transformers import Qwen2Config, Qwen2ForCausalLM

        Qwen2ForCausalLM(
            Qwen2Config(
                hidden_size=16,
                num_hidden_layers=1,
                num_attention_heads=2,
                intermediate_size=16,
                vocab_size=50,
            )
        ).save_pretrained(tmp_path / "text")
        HookedAudioLM.from_pretrained(str(tmp_path / "text"))


@pytest.mark.parametrize("architecture", ["qwen2_audio", "voxtral"])
def test_audio_tower_is_whisper_encoder_on_real_weights(tiny_en, jfk_mel, architecture):
    """The tower shares HookedWhisper's encoder blocks: loaded with the real tiny.en encoder,
    it gives the encoder's output on the JFK clip (Qwen2-Audio's pooling undone by comparing
    with the pooled encoder output; its padding mask all-valid for a full window)."""
    from hooked_audio.models.audio_lm import HookedAudioLMConfig

    d = tiny_en.dims
    cfg = HookedAudioLMConfig(
        architecture=architecture,
        n_mels=d.n_mels,
        audio_d_model=d.n_audio_state,
        audio_n_layers=d.n_audio_layer,
        audio_n_heads=d.n_audio_head,
        audio_d_mlp=4 * d.n_audio_state,
        audio_n_ctx=d.n_audio_ctx,
        audio_pool=2 if architecture == "qwen2_audio" else 1,
        projector="linear" if architecture == "qwen2_audio" else "stack",
        projector_stack=1 if architecture == "qwen2_audio" else 4,
        d_model=32,
        n_layers=1,
        n_heads=4,
        n_key_value_heads=2,
        d_head=8,
        d_mlp=64,
        d_vocab=50,
        n_ctx=64,
        audio_token_id=49,
    )
    model = HookedAudioLM(cfg, seed=0)
    model.audio_encoder.load_state_dict(tiny_en.encoder.state_dict())
    mask = (
        torch.ones(1, cfg.n_mel_frames, dtype=torch.long) if architecture == "qwen2_audio" else None
    )
    lengths = None if mask is None else mask.sum(-1)
    with torch.no_grad():
        expected = tiny_en.encoder(jfk_mel)
        tower = model.audio_encoder(jfk_mel, lengths)
    if architecture == "qwen2_audio":
        last = _encoder_last_resid(tiny_en, jfk_mel)  # before ln_post
        pooled = torch.nn.functional.avg_pool1d(last.transpose(1, 2), 2, 2).transpose(1, 2)
        with torch.no_grad():
            expected = tiny_en.encoder.ln_post(pooled)
    torch.testing.assert_close(tower, expected, atol=1e-5, rtol=0)


def _encoder_last_resid(model, mel):
    name = f"encoder.blocks.{model.dims.n_audio_layer - 1}.hook_resid_post"
    with torch.no_grad():
        _, cache = model.run_with_cache(mel, model.to_tokens(""), names_filter=name)
    return cache[name]


def test_per_head_results_sum_to_attention_output():
    """`set_use_attn_result(True)`: per-head `hook_result` (query heads of grouped attention,
    and the tower's heads) sum to the attention output minus `b_O`; logits unchanged."""
    model = hooked(qwen2_audio_hf())
    inputs = qwen2_audio_inputs([80], [7])
    with torch.no_grad():
        before = model(**inputs)
        model.set_use_attn_result(True)
        assert model.cfg.use_attn_result and model.config.audio.use_attn_result
        logits, cache = model.run_with_cache(**inputs)
    torch.testing.assert_close(logits, before, atol=1e-5, rtol=0)
    for prefix, n_heads in (
        ("", model.cfg.n_heads),
        ("audio_encoder.", model.config.audio_n_heads),
    ):
        result = cache[f"{prefix}blocks.1.attn.hook_result"]
        assert result.shape[2] == n_heads
        b_O = (model.blocks[1] if not prefix else model.audio_encoder.blocks[1]).attn.b_O
        torch.testing.assert_close(
            result.sum(2) + b_O, cache[f"{prefix}blocks.1.hook_attn_out"], atol=1e-5, rtol=0
        )
    model.set_use_attn_result(False)
    with torch.no_grad():
        _, cache = model.run_with_cache(**inputs)
    assert "blocks.1.attn.hook_result" not in cache


@pytest.mark.parametrize(
    "rope",
    [
        {"rope_type": "linear", "factor": 2.0},
        {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32},
        {
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 32,
        },
    ],
    ids=lambda rope: rope["rope_type"],
)
@pytest.mark.parametrize("architecture", ["qwen2_audio", "voxtral"])
def test_rope_scaling_is_refused_not_loaded_as_plain_rope(architecture, rope):
    """A checkpoint whose RoPE is scaled would compute other rotations than the plain RoPE this
    model runs: it is refused, naming the option, on both architectures."""
    config = (qwen2_audio_hf if architecture == "qwen2_audio" else voxtral_hf)().config
    HookedAudioLMConfig.from_hf_config(config)  # as built, it loads
    config.text_config.rope_parameters = {"rope_theta": 10000.0, **rope}
    with pytest.raises(ValueError, match=f"rope_parameters.rope_type='{rope['rope_type']}'"):
        HookedAudioLMConfig.from_hf_config(config)


def test_options_are_whitelisted_at_every_level():
    """Options neither implemented nor known to be irrelevant are refused wherever they sit
    (top level, audio tower, language model); training-time options load unchanged."""
    reference = HookedAudioLMConfig.from_hf_config(qwen2_audio_hf().config)
    config = qwen2_audio_hf().config
    config.text_config.attention_dropout, config.audio_config.dropout = 0.2, 0.2
    assert HookedAudioLMConfig.from_hf_config(config) == reference
    for part, option, value in [
        ("audio_config", "activation_function", "relu"),
        ("audio_config", "scale_embedding", True),
        ("text_config", "partial_rotary_factor", 0.5),
    ]:
        config = qwen2_audio_hf().config
        setattr(getattr(config, part), option, value)
        with pytest.raises(ValueError, match=f"{part}.{option}={value!r}"):
            HookedAudioLMConfig.from_hf_config(config)
