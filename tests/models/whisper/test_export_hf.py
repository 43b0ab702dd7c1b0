"""Any checkpoint as a HF Whisper: the exact inverse of the HF import, and a saved folder that
HF, HookedWhisper and `hooked-audio export-hf` read back."""

from __future__ import annotations

import pytest
import torch
import transformers
import whisper

from hooked_audio import HookedWhisper
from hooked_audio.cli import main
from hooked_audio.models.whisper.loading.huggingface import hf_to_checkpoint
from hooked_audio.models.whisper.loading.huggingface_export import (
    checkpoint_to_hf,
    source_tokenizer_json,
)


def test_export_is_the_inverse_of_the_hf_import(tiny_en_checkpoint):
    hf = checkpoint_to_hf(tiny_en_checkpoint)
    back = hf_to_checkpoint(hf)
    assert back.dims == tiny_en_checkpoint.dims
    assert back.alignment_heads == tiny_en_checkpoint.alignment_heads
    assert set(back.state_dict) == set(tiny_en_checkpoint.state_dict)
    for name, tensor in tiny_en_checkpoint.state_dict.items():
        assert torch.equal(back.state_dict[name], tensor), name
    assert hf.proj_out.weight.data_ptr() == hf.model.decoder.embed_tokens.weight.data_ptr()


def test_export_hf_command_writes_a_folder_hf_and_hooked_whisper_read(tmp_path, jfk_mel, tiny_en):
    out = tmp_path / "tiny.en-hf"
    assert main(["export-hf", str(out)]) == 0
    hf = transformers.WhisperForConditionalGeneration.from_pretrained(out).eval()
    tokens = torch.tensor([tiny_en.tokenizer.sot_sequence_including_notimestamps])
    with torch.no_grad():
        torch.testing.assert_close(
            hf(input_features=jfk_mel, decoder_input_ids=tokens).logits,
            tiny_en(jfk_mel, tokens),
            atol=1e-4,
            rtol=0,
        )
    # the tokenizer that ships with the packaged weights comes along, and agrees
    tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    text = " And so my fellow Americans, ask not"
    reference = whisper.tokenizer.get_tokenizer(multilingual=False)
    assert tokenizer.encode(text, add_special_tokens=False) == reference.encode(text)
    assert tokenizer.convert_tokens_to_ids("<|startoftranscript|>") == reference.sot
    assert transformers.WhisperFeatureExtractor.from_pretrained(out).feature_size == 80
    assert HookedWhisper.from_pretrained(out).cfg.n_layers == tiny_en.cfg.n_layers


def test_export_hf_refuses_another_commands_folder(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit) as exit_info:
        main(["export-hf", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "--overwrite" in capsys.readouterr().err


def test_tokenizer_travels_only_where_one_exists(tmp_path):
    assert source_tokenizer_json("tiny.en").name == "tokenizer.json"
    assert source_tokenizer_json(tmp_path) is None
