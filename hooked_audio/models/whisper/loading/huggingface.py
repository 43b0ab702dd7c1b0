"""HF transformers Whisper (`WhisperForConditionalGeneration`) -> openai-whisper names.

transformers is optional (`pip install hooked-audio[hf]`): `hf_to_checkpoint` only reads
`state_dict()`, `config` and `generation_config` of the model it is given, and
`load_hf_directory` imports transformers when called.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch
from whisper.model import ModelDimensions

from hooked_audio.models.config_options import (
    HF_GENERIC,
    SPEC_AUGMENT,
    TRAINING,
    ConfigOptions,
    check_hf_config,
)
from hooked_audio.models.whisper.loading.checkpoint import (
    WhisperCheckpoint,
    as_float32,
    check_alignment_heads,
)

_TOP_LEVEL = {
    "model.encoder.conv1": "encoder.conv1",
    "model.encoder.conv2": "encoder.conv2",
    "model.encoder.embed_positions.weight": "encoder.positional_embedding",
    "model.encoder.layer_norm": "encoder.ln_post",
    "model.decoder.embed_tokens": "decoder.token_embedding",
    "model.decoder.embed_positions.weight": "decoder.positional_embedding",
    "model.decoder.layer_norm": "decoder.ln",
}
_IN_LAYER = {
    "self_attn.q_proj": "attn.query",
    "self_attn.k_proj": "attn.key",
    "self_attn.v_proj": "attn.value",
    "self_attn.out_proj": "attn.out",
    "self_attn_layer_norm": "attn_ln",
    "encoder_attn.q_proj": "cross_attn.query",
    "encoder_attn.k_proj": "cross_attn.key",
    "encoder_attn.v_proj": "cross_attn.value",
    "encoder_attn.out_proj": "cross_attn.out",
    "encoder_attn_layer_norm": "cross_attn_ln",
    "fc1": "mlp.0",
    "fc2": "mlp.2",
    "final_layer_norm": "mlp_ln",
}
_LAYER_KEY = re.compile(r"model\.(encoder|decoder)\.layers\.(\d+)\.(.+)\.(weight|bias)")


def _openai_name(hf_name: str) -> str:
    if hf_name in _TOP_LEVEL:
        return _TOP_LEVEL[hf_name]
    module, _, param = hf_name.rpartition(".")
    if module in _TOP_LEVEL:
        return f"{_TOP_LEVEL[module]}.{param}"
    match = _LAYER_KEY.fullmatch(hf_name)
    if match and match.group(3) in _IN_LAYER:
        stack, layer, part, param = match.groups()
        return f"{stack}.blocks.{layer}.{_IN_LAYER[part]}.{param}"
    raise ValueError(f"HF parameter {hf_name} has no openai-whisper counterpart.")


def hf_parameter_name(hf_name: str) -> str:
    """The openai-whisper name of HF Whisper parameter `hf_name` (`_openai_name`, public for
    the export in `huggingface_export`)."""
    return _openai_name(hf_name)


#: What the HF -> openai-whisper conversion does with each `WhisperConfig` option; any other
#: option that differs from WhisperConfig's defaults is refused (`config_options`).
HF_WHISPER_OPTIONS = ConfigOptions(
    family="HookedWhisper",
    handled=frozenset(
        {
            "vocab_size",
            "num_mel_bins",
            "d_model",
            "encoder_layers",
            "encoder_attention_heads",
            "decoder_layers",
            "decoder_attention_heads",
            "max_source_positions",
            "max_target_positions",
            # checked below: widths 4 x d_model, exact GELU, no embedding scale
            "encoder_ffn_dim",
            "decoder_ffn_dim",
            "activation_function",
            "scale_embedding",
            # checked on the weights: proj_out must equal the token embedding
            "tie_word_embeddings",
        }
    ),
    ignored={
        **HF_GENERIC,
        **dict.fromkeys(
            (
                "dropout",
                "attention_dropout",
                "activation_dropout",
                "encoder_layerdrop",
                "decoder_layerdrop",
                "init_std",
                *SPEC_AUGMENT,
            ),
            TRAINING,
        ),
        **dict.fromkeys(
            ("suppress_tokens", "begin_suppress_tokens", "forced_decoder_ids", "max_length"),
            "a decoding setting; openai-whisper's decoding takes its own from the tokenizer",
        ),
        "median_filter_width": "HF's word-timestamp smoothing; openai-whisper's timing has its own",
        "num_hidden_layers": "HF's copy of encoder_layers in older configs",
        "use_weighted_layer_sum": "WhisperForAudioClassification's head, not loaded here",
        "classifier_proj_size": "WhisperForAudioClassification's head, not loaded here",
    },
)


def _check_config(config: Any) -> None:
    """Refuse HF variants openai-whisper's architecture cannot express: options it does not
    implement by name, then the values of those it reads."""
    check_hf_config(config, HF_WHISPER_OPTIONS)
    if config.activation_function != "gelu":
        raise ValueError(
            f"activation_function is {config.activation_function!r}; openai-whisper "
            "only has exact GELU ('gelu')."
        )
    # HF has one d_model for both stacks; the per-stack widths it can vary are the MLPs',
    # which openai-whisper fixes at 4 * width in encoder and decoder alike.
    widths = {"encoder_ffn_dim": config.encoder_ffn_dim, "decoder_ffn_dim": config.decoder_ffn_dim}
    if any(w != 4 * config.d_model for w in widths.values()):
        raise ValueError(
            f"Encoder and decoder widths must match openai-whisper's (MLP = 4 x "
            f"d_model = {4 * config.d_model}); this config has {widths}."
        )
    if getattr(config, "scale_embedding", False):
        raise ValueError(
            "scale_embedding=True multiplies token embeddings by sqrt(d_model); "
            "openai-whisper does not."
        )


def hf_to_checkpoint(hf_model: Any) -> WhisperCheckpoint:
    """A `transformers.WhisperForConditionalGeneration` as openai-whisper dims + float32
    state dict (tensors may share memory with `hf_model`) + alignment heads, if its
    generation config has them."""
    config = hf_model.config
    _check_config(config)
    state_dict: dict[str, torch.Tensor] = {}
    hf_state = hf_model.state_dict()
    if any("._original_component." in name for name in hf_state):
        raise ValueError(
            "This HF Whisper is wrapped by a TransformerLens TransformerBridge (its modules are "
            "bridge components now); load HookedWhisper from the folder the bridge was booted "
            "from instead: HookedWhisper.from_pretrained(folder)."
        )
    for hf_name, tensor in hf_state.items():
        if hf_name == "proj_out.weight":
            # openai-whisper computes logits with the token embedding itself.
            if not torch.equal(tensor, hf_state["model.decoder.embed_tokens.weight"]):
                raise ValueError(
                    "proj_out is not tied to the token embedding; openai-whisper "
                    "has no separate output projection."
                )
            continue
        state_dict[_openai_name(hf_name)] = tensor.detach()
    dims = ModelDimensions(
        n_mels=config.num_mel_bins,
        n_audio_ctx=config.max_source_positions,
        n_audio_state=config.d_model,
        n_audio_head=config.encoder_attention_heads,
        n_audio_layer=config.encoder_layers,
        n_vocab=config.vocab_size,
        n_text_ctx=config.max_target_positions,
        n_text_state=config.d_model,
        n_text_head=config.decoder_attention_heads,
        n_text_layer=config.decoder_layers,
    )
    generation_config = getattr(hf_model, "generation_config", None)
    heads = getattr(generation_config, "alignment_heads", None)
    source = f"huggingface:{getattr(config, '_name_or_path', '') or type(hf_model).__name__}"
    if heads is not None:
        heads = check_alignment_heads(heads, dims.n_text_layer, dims.n_text_head, source)
    return WhisperCheckpoint(dims, as_float32(state_dict), heads, source)


def load_hf_directory(path: str | os.PathLike[str]) -> WhisperCheckpoint:
    """A saved HF Whisper directory (`save_pretrained` output: config.json + weights)."""
    path = Path(path).expanduser()
    if not path.is_dir():
        # Checked here: transformers would otherwise try `path` as a Hub repo id.
        raise FileNotFoundError(f"HF Whisper model directory not found: {path}")
    try:
        from transformers import WhisperForConditionalGeneration
    except ImportError as err:
        raise ImportError(
            "Loading HF transformers models needs transformers: `pip install hooked-audio[hf]`."
        ) from err
    _check_hf_directory(path)
    try:
        hf_model = WhisperForConditionalGeneration.from_pretrained(path).eval()
    except (RuntimeError, OSError, ValueError) as err:
        said = " ".join(str(err).split())[:300]
        raise ValueError(
            f"transformers could not load the Whisper model in {path}: {said}. A weight whose "
            "shape differs from config.json means the folder mixes two models: save it again "
            "with save_pretrained."
        ) from None
    return hf_to_checkpoint(hf_model)


#: the weight files `save_pretrained` writes (one file, or an index of shards)
HF_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def _check_hf_directory(path: Path) -> None:
    """A HF folder's config is JSON of a Whisper model and its weights are there (checked
    here so the errors name the file, not transformers' internals)."""
    config_path = path / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{path} has no config.json: not a saved HF transformers model.")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{config_path} is not valid JSON ({err}).") from None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type != "whisper":
        raise ValueError(
            f"{config_path} describes a {model_type!r} model, not 'whisper'; HookedWhisper "
            "loads Whisper checkpoints (HookedAudioEncoder: wav2vec2/HuBERT, HookedAudioLM: "
            "Qwen2-Audio/Voxtral)."
        )
    if not any((path / name).is_file() for name in HF_WEIGHT_FILES):
        raise FileNotFoundError(
            f"{path} holds config.json but no weights ({', '.join(HF_WEIGHT_FILES)}): copy "
            "the weights beside it, or save the model again with save_pretrained."
        )
