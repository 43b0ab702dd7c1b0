"""TransformerLens's own loader over a tiny random HF Whisper folder: the adapter is found,
the Bridge computes HF's logits, every hook holds HookedWhisper's activation, edits to any hook
(scores and patterns included) act as they do in HookedWhisper, and bad input is named."""

from __future__ import annotations

import pytest
import torch
import transformers
from transformer_lens.model_bridge import TransformerBridge

import hooked_audio  # noqa: F401  (registers the adapter)
from hooked_audio import HookedWhisper
from hooked_audio.models.whisper.bridge import HOOKED_ATTENTION, WhisperPluginAdapter
from hooked_audio.models.whisper.bridge.hook_names import bridge_hook_name, relative_differences
from tests.models.whisper.bridge.tiny_whisper import save_tiny_folder, tiny_inputs


def assert_logits_equal(bridge: TransformerBridge, hf) -> None:
    mel, tokens = tiny_inputs()
    with torch.no_grad():
        expected = hf(input_features=mel, decoder_input_ids=tokens).logits
        torch.testing.assert_close(
            bridge(mel, decoder_input_ids=tokens), expected, atol=1e-5, rtol=0
        )


def _boot(folder, **kwargs) -> TransformerBridge:
    return TransformerBridge.boot_transformers(str(folder), device="cpu", **kwargs)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return save_tiny_folder(tmp_path_factory.mktemp("tiny_whisper"))


@pytest.fixture(scope="module")
def bridge(folder) -> TransformerBridge:
    return _boot(folder)


@pytest.fixture(scope="module")
def hf(folder):
    return transformers.WhisperForConditionalGeneration.from_pretrained(
        folder, attn_implementation="eager"
    ).eval()


@pytest.fixture(scope="module")
def hooked(hf) -> HookedWhisper:
    return HookedWhisper.from_hf(hf)


class TestWhisperBridgeCreation:
    def test_transformer_lens_loader_finds_the_adapter(self, bridge):
        assert type(bridge.adapter) is WhisperPluginAdapter
        assert isinstance(bridge.original_model, transformers.WhisperForConditionalGeneration)
        assert bridge.original_model.config._attn_implementation == HOOKED_ATTENTION
        assert len(bridge.encoder_blocks) == 2 and len(bridge.decoder_blocks) == 2

    def test_components_sit_in_the_live_hf_model(self, bridge):
        """The Bridge replaces HF's modules by its components, which hold the HF originals:
        HF's own forward runs through the hooks."""
        hf_model = bridge.original_model.model
        assert hf_model.encoder.conv1 is bridge.conv1
        assert isinstance(bridge.conv1.original_component, torch.nn.Conv1d)
        assert hf_model.encoder.layers[0].self_attn.q_proj is bridge.encoder_blocks[0].attn.q
        assert hf_model.decoder.layers[1].encoder_attn is bridge.decoder_blocks[1].cross_attn
        assert bridge.original_model.proj_out is bridge.unembed


class TestWhisperBridgeForwardEquivalence:
    def test_logits_equal_hf(self, bridge, hf):
        mel, tokens = tiny_inputs(batch=2)
        with torch.no_grad():
            expected = hf(input_features=mel, decoder_input_ids=tokens).logits
            got = bridge(mel, decoder_input_ids=tokens)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)

    def test_every_hook_equals_hooked_whisper(self, bridge, hooked):
        mel, tokens = tiny_inputs(batch=2)
        with torch.no_grad():
            _, bridge_cache = bridge.run_with_cache(mel, decoder_input_ids=tokens)
            _, hooked_cache = hooked.run_with_cache(mel, tokens)
        differences = relative_differences(hooked_cache, bridge_cache)
        # every hook HookedWhisper fires by default (all but the opt-in per-head results)
        assert len(differences) == len(hooked.hook_dict) - 3 * 2
        worst = max(differences, key=differences.get)
        assert differences[worst] < 1e-5, (worst, differences[worst])

    def test_unequal_encoder_and_decoder_depths(self, tmp_path):
        folder = save_tiny_folder(tmp_path, encoder_layers=3, decoder_layers=1)
        bridge = _boot(folder)
        hf = transformers.WhisperForConditionalGeneration.from_pretrained(
            folder, attn_implementation="eager"
        ).eval()
        assert_logits_equal(bridge, hf)
        assert (len(bridge.encoder_blocks), len(bridge.decoder_blocks)) == (3, 1)


def _zero_head_0(value, hook):
    value[:, 0] = 0.0
    return value


@pytest.mark.parametrize(
    "hooked_name",
    [
        "encoder.blocks.0.attn.hook_pattern",
        "encoder.blocks.1.attn.hook_attn_scores",
        "decoder.blocks.0.attn.hook_pattern",
        "decoder.blocks.1.cross_attn.hook_pattern",
        "decoder.blocks.0.cross_attn.hook_z",
        "encoder.blocks.1.hook_resid_pre",
    ],
)
def test_edits_act_as_in_hooked_whisper(bridge, hooked, hooked_name):
    """Score and pattern hooks are live on the Bridge (TransformerBridge 4.3 fires them after
    HF has used the tensor): the same edit gives the same logits as in HookedWhisper."""
    mel, tokens = tiny_inputs()
    with torch.no_grad():
        clean = bridge(mel, decoder_input_ids=tokens)
        edited = bridge.run_with_hooks(
            mel,
            decoder_input_ids=tokens,
            fwd_hooks=[(bridge_hook_name(hooked_name), _zero_head_0)],
        )
        expected = hooked.run_with_hooks(mel, tokens, fwd_hooks=[(hooked_name, _zero_head_0)])
    assert (edited - clean).abs().max() > 1e-3
    torch.testing.assert_close(edited, expected, atol=1e-5, rtol=0)


class TestWhisperBridgeBadInput:
    def test_hooked_whisper_refuses_a_bridged_hf_model_with_the_fix(self, bridge):
        with pytest.raises(ValueError, match=r"HookedWhisper.from_pretrained\(folder\)"):
            HookedWhisper.from_hf(bridge.original_model)

    @pytest.mark.parametrize(
        "call, message",
        [
            (lambda b, mel, tok: b(mel), "needs its decoder tokens"),
            (lambda b, mel, tok: b(mel, decoder_input_ids=tok.float()), "integer tensor"),
            (lambda b, mel, tok: b(mel, decoder_input_ids=tok[:, None]), "integer tensor"),
            (lambda b, mel, tok: b(mel[0, 0], decoder_input_ids=tok), r"\[batch, 8, 20\]"),
            (lambda b, mel, tok: b(mel[:, :4], decoder_input_ids=tok), r"got \(1, 4, 20\)"),
            (lambda b, mel, tok: b(mel[..., :12], decoder_input_ids=tok), r"got \(1, 8, 12\)"),
            (lambda b, mel, tok: b(tok, decoder_input_ids=tok), "log-mel spectrogram"),
            (
                lambda b, mel, tok: b(
                    mel.index_fill(2, torch.tensor([3]), float("nan")), decoder_input_ids=tok
                ),
                "NaN",
            ),
        ],
    )
    def test_bad_calls_are_named(self, bridge, call, message):
        mel, tokens = tiny_inputs()
        with pytest.raises(ValueError, match=message):
            call(bridge, mel, tokens)

    def test_unknown_checkpoint_option_is_refused_at_load(self, tmp_path):
        folder = save_tiny_folder(tmp_path)
        config = transformers.WhisperConfig.from_pretrained(folder)
        config.rope_scaling_of_the_future = {"type": "yarn"}
        config.save_pretrained(folder)
        with pytest.raises(ValueError, match="rope_scaling_of_the_future"):
            _boot(folder)

    def test_attention_the_adapter_cannot_hook_is_refused(self, folder):
        transformers.AttentionInterface.register(
            "test_other_attention", transformers.AttentionInterface._global_mapping["sdpa"]
        )
        hf = transformers.WhisperForConditionalGeneration.from_pretrained(folder).eval()
        hf.set_attn_implementation("test_other_attention")
        with pytest.raises(ValueError, match="'test_other_attention'"):
            _boot(folder, hf_model=hf)

    def test_sdpa_models_are_switched_to_the_hooked_attention(self, folder, hf):
        sdpa = transformers.WhisperForConditionalGeneration.from_pretrained(
            folder, attn_implementation="sdpa"
        ).eval()
        bridge = _boot(folder, hf_model=sdpa)
        assert sdpa.config._attn_implementation == HOOKED_ATTENTION
        assert_logits_equal(bridge, hf)
