"""`write_activations`: chosen hook activations of many clips to disk, streaming.

Clips of any length are cut into consecutive windows of the model's length (30 s for
Whisper); a row's `time_s` is the start of its 20 ms position in seconds from the clip's
start, whatever window it fell in. Windows of several clips run in one batch. What is in
memory at once is one batch of windows and its activations: each batch is appended to its
clips' Arrow files as it comes, and a clip's files are renamed into place, and the clip
listed in clips.jsonl, only once all its windows are written, so a stopped store resumes
where it stopped (clips listed are not run again, others are written afresh).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from tqdm.auto import tqdm

from hooked_audio.activation_store.clip_files import write_clips
from hooked_audio.activation_store.clips import StoreClip
from hooked_audio.activation_store.layout import (
    CLIPS,
    FORMAT,
    MANIFEST,
    check_hook_name,
)
from hooked_audio.activation_store.window_rows import windows_of
from hooked_audio.checks import check_count, check_unique
from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.safe_files import append_lines, inside, read_json, read_jsonl, write_text
from hooked_audio.weight_checks import weights_fingerprint

if TYPE_CHECKING:
    from hooked_audio.activation_store.ray_writers import RayStoreWriters


def _manifest(root: Path, source, hooks: list[str], padding: bool) -> dict:
    wanted = {
        "format": FORMAT,
        "source": source.name,
        "hooks": hooks,
        "seconds_per_position": source.samples_per_position / SAMPLE_RATE,
        "window_seconds": source.window_samples / SAMPLE_RATE,
        "padding": padding,
    }
    model = getattr(source, "model", None)
    if isinstance(model, torch.nn.Module):
        wanted["weights"] = weights_fingerprint(model)
    path = inside(root, MANIFEST)
    if path.exists():
        saved = read_json(path, "the activation store's manifest")
        if not isinstance(saved, dict):
            raise ValueError(f"{path} does not hold an activation store's manifest.")
        if "weights" not in saved:  # a store from before fingerprints: not compared
            wanted.pop("weights", None)
        same = {k: saved.get(k) for k in wanted}
        if same.get("weights") != wanted.get("weights") and same.get("source") == wanted["source"]:
            raise ValueError(
                f"{root} holds activations of a model named {wanted['source']!r} with other "
                f"weights (fingerprint {same.get('weights')}, this model's {wanted['weights']}); "
                "resuming would mix two models' activations. Give this model another name, or "
                "write to a new folder."
            )
        if same != wanted:
            raise ValueError(
                f"{root} holds a store written with {same}; this one would be {wanted}. "
                "Resume with the same source, hooks and padding, or write to a new folder."
            )
        return saved
    return wanted


def write_activations(
    source,
    clips: Iterable[StoreClip],
    hooks: list[str],
    out_dir: str | Path,
    batch_size: int = 8,
    padding: bool = False,
    progress: bool = True,
    ray: RayStoreWriters | None = None,
) -> Path:
    """Write `hooks`' activations of every clip to `out_dir` (see the module docstring and
    `hooked_audio.activation_store.layout`); returns the folder. `source`: e.g.
    `WhisperEncoderSource(model, "tiny.en")`. `padding=False` keeps only the positions that
    hold the clip's audio (a 2 s clip has 100 of the window's 1500), True keeps the whole
    window. `ray`: a `RayStoreWriters` shares the clips out over a Ray cluster's workers (each
    writes its clips' files into `out_dir`, which they must all see; this process lists each
    finished clip). Reopen the folder with `ActivationStore`."""
    hooks = [check_hook_name(h) for h in hooks]
    if len(set(hooks)) != len(hooks):
        raise ValueError(f"hooks repeat a name: {hooks}.")
    source.check_hooks(hooks)
    batch_size = check_count(batch_size, "batch_size")
    clips = list(clips)
    check_unique([c.id for c in clips], "Clip ids")
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    manifest = _manifest(root, source, hooks, padding)
    done_path = inside(root, CLIPS)
    done = set()
    if done_path.exists():
        done = {entry["id"] for _, entry in read_jsonl(done_path)}
    todo = [c for c in clips if c.id not in done]
    features = dict(manifest.get("features", {}))
    n_windows = sum(len(windows_of(c, source.window_samples)) for c in todo)
    bar = tqdm(total=n_windows, disable=not progress, desc="activations (windows)")

    def finished(line: dict) -> None:
        for hook, d in line.pop("features").items():
            if features.setdefault(hook, d) != d:
                raise ValueError(f"{hook}: {d} features, the store holds {features[hook]}.")
        _write_manifest(root, manifest, features)
        append_lines(root, CLIPS, [json.dumps(line)])
        bar.update(line["windows"])

    if ray is None:
        write_clips(source, todo, hooks, root, batch_size, padding, finished)
    else:
        ray.write(source, todo, hooks, root, batch_size, padding, finished)
    bar.close()
    _write_manifest(root, manifest, features)
    return root


def _write_manifest(root: Path, manifest: dict, features: dict) -> None:
    write_text(root, MANIFEST, json.dumps({**manifest, "features": features}, indent=1))
