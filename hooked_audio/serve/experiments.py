"""The experiments the probing page runs: a corruption of the clip (noise at an SNR or silence
over a selection, or a minimal pair synthesised from an edited transcript), a patching sweep
between the clean and corrupt clip with its progress, and the clip re-transcribed with a
selection of encoder frames zeroed or patched.

Everything here is the library's own machinery (`hooked_audio.corruptions`,
`hooked_audio.pairs.content_pair`, `layer_sweep` on the encoder stream, the frame
interventions of `hooked-audio transcribe`); the page only chooses and shows.
"""

from __future__ import annotations

import io
import threading
import uuid
from dataclasses import dataclass, field

import numpy as np
import torch
import whisper
from tqdm.auto import tqdm

from hooked_audio.audio import Audio
from hooked_audio.constants import SAMPLE_RATE, SECONDS_PER_POSITION
from hooked_audio.corruptions import silence, white_noise
from hooked_audio.models.whisper.inference import transcribe_options
from hooked_audio.models.whisper.lens.decoder_lens import own_transcript_tokens
from hooked_audio.patching import layer_sweep, time_cells
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.serve.probe import ClipProbe

CORRUPTIONS = ("noise", "silence", "pair")


def check_selection(selection: tuple[float, float] | None, seconds: float) -> tuple[float, float]:
    """A `(start, end)` selection in seconds inside a clip of `seconds`, at least one frame."""
    if selection is None:
        raise ValueError("Select a stretch of the spectrogram first (drag across it).")
    start, end = max(0.0, float(selection[0])), min(seconds, float(selection[1]))
    if end - start < SECONDS_PER_POSITION:
        raise ValueError(
            f"The selection {start:.2f}-{end:.2f} s is shorter than one 20 ms frame inside the "
            f"{seconds:.2f} s clip; select more."
        )
    return start, end


def corrupt_audio(
    probe: ClipProbe,
    kind: str,
    selection: tuple[float, float] | None = None,
    snr_db: float = 0.0,
    edit: tuple[str, str] | None = None,
) -> tuple[Audio, Audio]:
    """`(clean, corrupt)` audio for `kind`: "noise" (white noise at `snr_db` over the
    selection), "silence" (the selection zeroed), or "pair" (`edit = (word, replacement)`:
    the transcript and its edit both synthesised by espeak-ng, word-aligned; the clean side is
    then the synthesised transcript, not the recording)."""
    if kind not in CORRUPTIONS:
        raise ValueError(f"The corruption must be one of {CORRUPTIONS}, got {kind!r}.")
    if kind == "pair":
        from hooked_audio.pairs import content_pair

        if not edit or not edit[0].strip() or not edit[1].strip():
            raise ValueError("Give the word to change and what to say instead.")
        word, replacement = edit[0].strip(), edit[1].strip()
        if word not in probe.text.split() and word not in probe.text:
            raise ValueError(f"{word!r} is not in the transcript {probe.text!r}.")
        pair = content_pair("page", probe.text, word, replacement)
        return pair.clean_audio, pair.corrupt_audio
    span = check_selection(selection, probe.seconds)
    if kind == "noise":
        return probe.audio, white_noise(probe.audio, float(snr_db), span=span)
    return probe.audio, silence(probe.audio, span)


def transcript_log_prob(tokens: list[int], n_prefix: int):
    """A metric: the mean log-prob of the transcript's tokens (after the `n_prefix` start
    tokens, end of text included), teacher-forced."""
    targets = torch.tensor(tokens[n_prefix:])
    rows = torch.arange(n_prefix - 1, len(tokens) - 1)

    def metric(logits: torch.Tensor) -> torch.Tensor:
        log_probs = logits[:, rows].log_softmax(-1)
        return log_probs[:, torch.arange(len(targets)), targets].mean()

    return metric


@dataclass
class SweepJob:
    """A sweep running in a thread: `progress()` in [0, 1], then `result` or `error`."""

    id: str
    bar: tqdm
    thread: threading.Thread | None = None
    result: SweepResult | None = None
    error: str | None = None
    clean: Audio | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def progress(self) -> float:
        return 1.0 if self.done.is_set() else (self.bar.n / self.bar.total if self.bar.total else 0)


def plan_sweep(probe: ClipProbe, clean: Audio, corrupt: Audio, window_s: float):
    """The encoder stream, inputs, metric and cells of a denoising sweep of `resid_pre` at
    every encoder layer over `window_s` windows of the clean clip."""
    model = probe.model
    if len(clean) != len(corrupt):
        raise ValueError(
            f"The clean and corrupt clips differ in length ({len(clean) / SAMPLE_RATE:.2f} s "
            f"and {len(corrupt) / SAMPLE_RATE:.2f} s); patching needs them frame for frame."
        )
    clean_frames, corrupt_frames = model.to_frames(clean), model.to_frames(corrupt)
    n_positions = int(np.ceil(len(clean) / SAMPLE_RATE / SECONDS_PER_POSITION))
    tokens = (
        probe.tokens if clean is probe.audio else own_transcript_tokens(model, model.to_mel(clean))
    )
    cells = time_cells.windows(
        clean_frames.shape[-1], window_s=window_s, end_s=n_positions * SECONDS_PER_POSITION
    )
    view = model.encoder_stream(torch.tensor([tokens]))
    metric = transcript_log_prob(tokens, len(model.start_tokens()))
    return view, clean_frames, corrupt_frames, metric, cells


class SweepRunner:
    """Sweeps started from the page, one thread each; `start` returns the job, which the
    page polls."""

    def __init__(self):
        self.jobs: dict[str, SweepJob] = {}
        self._lock = threading.Lock()  # one model: one sweep at a time

    def start(self, probe: ClipProbe, clean: Audio, corrupt: Audio, window_s: float) -> SweepJob:
        view, clean_frames, corrupt_frames, metric, cells = plan_sweep(
            probe, clean, corrupt, window_s
        )
        total = probe.n_layers * len(cells.cells)
        bar = tqdm(total=total, file=io.StringIO(), desc="page sweep")
        job = SweepJob(uuid.uuid4().hex, bar, clean=clean)

        def run():
            try:
                with self._lock:
                    job.result = layer_sweep(
                        view,
                        clean_frames,
                        corrupt_frames,
                        metric,
                        act="resid_pre",
                        direction="denoise",
                        cells=cells.cells,
                        labels=cells.labels,
                        progress=bar,
                    )
            except Exception as error:  # shown on the page, not lost in a thread
                job.error = f"{type(error).__name__}: {error}"
            finally:
                job.done.set()

        job.thread = threading.Thread(target=run, daemon=True)
        self.jobs[job.id] = job
        job.thread.start()
        return job


def transcribe_with_frames(
    probe: ClipProbe,
    selection: tuple[float, float],
    layer: int,
    mode: str = "zero",
    source: Audio | None = None,
) -> str:
    """The clip re-transcribed with the selection's encoder frames at `layer`'s `resid_pre`
    zeroed (`mode="zero"`), or patched from `source` (`mode="patch"`, e.g. the corrupt clip)."""
    from hooked_audio.models.whisper.frame_interventions import FrameSpan, intervention_hooks

    model = probe.model
    start, end = check_selection(selection, probe.seconds)
    if not 0 <= layer < probe.n_layers:
        raise ValueError(f"layer must be in 0..{probe.n_layers - 1}, got {layer}.")
    span = FrameSpan(f"encoder.blocks.{layer}.hook_resid_pre", start, end)
    if mode == "zero":
        hooks = intervention_hooks(model, ablate=[span])
    elif mode == "patch":
        if source is None:
            raise ValueError("Patching needs a source clip: run a corruption first.")
        hooks = intervention_hooks(model, patch=[span], source=source)
    else:
        raise ValueError(f"mode must be 'zero' or 'patch', got {mode!r}.")
    with torch.no_grad(), model.hooks(fwd_hooks=hooks):
        result = whisper.transcribe(
            model,
            np.asarray(probe.audio),
            verbose=None,
            without_timestamps=True,
            **transcribe_options(model),
        )
    return result["text"].strip()
