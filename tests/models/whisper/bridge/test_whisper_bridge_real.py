"""TransformerLens's own loader over the real tiny.en and base weights (exported offline by
`hooked-audio export-hf`): logits equal HF's, every hook equals HookedWhisper's within 1e-4 of
its scale, on the bundled speech clip."""

from __future__ import annotations

import pytest
import torch
import transformers
from transformer_lens.model_bridge import TransformerBridge

import hooked_audio  # noqa: F401  (registers the adapter)
from hooked_audio import HookedWhisper
from hooked_audio.models.whisper.bridge.hook_names import bridge_hook_name, relative_differences
from hooked_audio.models.whisper.loading.huggingface_export import export_hf_directory


@pytest.mark.parametrize("name", ["tiny.en", "base"])
def test_real_weights_bridge_equals_hf_and_hooked_whisper_slow(name, tmp_path, jfk_audio):
    folder = export_hf_directory(name, tmp_path / name)
    bridge = TransformerBridge.boot_transformers(str(folder), device="cpu")
    hf = transformers.WhisperForConditionalGeneration.from_pretrained(
        folder, attn_implementation="eager"
    ).eval()
    hooked = HookedWhisper.from_pretrained(name)
    mel = hooked.to_mel(jfk_audio, sample_rate=16000)
    tokenizer = hooked.tokenizer
    tokens = torch.tensor(
        [[*tokenizer.sot_sequence_including_notimestamps, *tokenizer.encode(" And so my fellow")]]
    )
    with torch.no_grad():
        logits, bridge_cache = bridge.run_with_cache(mel, decoder_input_ids=tokens)
        hf_logits = hf(input_features=mel, decoder_input_ids=tokens).logits
        hooked_logits, hooked_cache = hooked.run_with_cache(mel, tokens)
    torch.testing.assert_close(logits, hf_logits, atol=1e-4, rtol=0)
    torch.testing.assert_close(logits, hooked_logits, atol=1e-4, rtol=0)
    differences = relative_differences(hooked_cache, bridge_cache)
    worst = max(differences, key=differences.get)
    assert differences[worst] < 1e-4, (worst, differences[worst])
    # the model hears the clip: its next token after "And so my fellow" is " Americans"
    assert tokenizer.decode([int(logits[0, -1].argmax())]) == " Americans"


def test_hook_names_refuse_what_the_bridge_lacks():
    assert bridge_hook_name("decoder.blocks.3.hook_cross_attn_out") == (
        "decoder_blocks.3.cross_attn.hook_out"
    )
    assert (
        bridge_hook_name("decoder.blocks.0.ln2.hook_normalized") == "decoder_blocks.0.ln3.hook_out"
    )
    with pytest.raises(KeyError, match="set_use_attn_result"):
        bridge_hook_name("encoder.blocks.0.attn.hook_result")
    with pytest.raises(KeyError, match="no hook for encoder.blocks.0.hook_nothing"):
        bridge_hook_name("encoder.blocks.0.hook_nothing")


def test_cache_comparison_names_what_cannot_be_compared():
    name, bridge_name = "encoder.blocks.0.hook_resid_pre", "encoder_blocks.0.hook_resid_pre"
    expected = torch.ones(2, 3, 4)
    assert relative_differences({name: expected}, {bridge_name: expected * 1.5}) == {name: 0.5}
    with pytest.raises(ValueError, match="are the caches of the same input"):
        relative_differences({name: expected}, {bridge_name: expected[:1]})
    broken = expected.clone()
    broken[0, 1, 2] = float("nan")
    assert relative_differences({name: expected}, {bridge_name: broken}) == {name: float("inf")}
