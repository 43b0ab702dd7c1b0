"""How long an ablation study takes: every decoder self-attention head of the packaged tiny.en
zeroed in turn while it transcribes 20 clips (the 10 synthesised non-speech clips and 10
stretches of up to 10 s of the shipped recordings), against issue 29's target of 15 minutes on
2 CPU cores.

    python benchmarks/ablation_benchmark.py [--out benchmarks/ABLATION_RESULTS.md]

It also times the same study's first unit (the baseline, which computes the log-mel and the
encoder's outputs every decoder unit reuses) apart from the rest, and one plain transcription
of the set, so the table says where the time goes.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import torch

from hooked_audio import HookedWhisper
from hooked_audio.ablation_study import (
    AblationSpec,
    TranscriptClip,
    non_speech_set,
    recorded_set,
    run_ablation_study,
)
from hooked_audio.audio import Audio
from hooked_audio.models.loading import model_family

TARGET_MINUTES = 15.0
N_CLIPS = 20


def clip_set() -> list[TranscriptClip]:
    """10 non-speech clips of 10 s and 10 stretches of 10 s (or the whole clip, when shorter)
    cut from the shipped recordings, longest recordings first (references dropped: a cut
    recording's text no longer matches it)."""
    noise = non_speech_set(seconds=10.0)
    speech = []
    recordings = sorted(recorded_set(), key=lambda clip: -len(clip.audio))
    for clip in recordings:
        rate = clip.audio.sample_rate
        for start in range(0, max(len(clip.audio) - 5 * rate, 1), 10 * rate):
            cut = Audio(clip.audio[start : start + 10 * rate], rate)
            speech.append(TranscriptClip(f"{clip.name}@{start // rate}s", cut, None))
    return noise + speech[: N_CLIPS - len(noise)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("ABLATION_RESULTS.md"))
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    model = HookedWhisper.from_pretrained("tiny.en")
    clips = clip_set()
    if len(clips) != N_CLIPS:
        raise SystemExit(f"expected {N_CLIPS} clips, found {len(clips)}")
    start = time.perf_counter()
    model_family(model).transcribe([clip.audio for clip in clips])
    plain = time.perf_counter() - start
    lines_out: list[str] = []
    start = time.perf_counter()
    result = run_ablation_study(
        model,
        clips,
        AblationSpec(components=("decoder.self_heads",)),
        progress=True,
        out=lines_out.append,
    )
    total = time.perf_counter() - start
    units = result.rows["unit"].nunique()
    verdict = "met" if total / 60 <= TARGET_MINUTES else "MISSED"
    load = os.getloadavg()[0]
    table = [
        "# Ablation study speed",
        "",
        f"`python benchmarks/ablation_benchmark.py`: CPU ({platform.machine()}, "
        f"{os.cpu_count()} cores, {torch.get_num_threads()} threads, load average "
        f"{load:.2f} at the end), torch {torch.__version__}, the packaged tiny.en. Every decoder "
        f"self-attention head zeroed in turn ({units - 1} heads + the baseline) while the model "
        f"transcribes {len(clips)} clips (10 synthesised non-speech clips of 10 s, 10 stretches "
        "of up to 10 s of the shipped recordings), greedy decoding, 16 clips per batch.",
        "",
        "| what | seconds | target | |",
        "|---|---:|---|---|",
        f"| one plain transcription of the {len(clips)} clips (log-mel, encoder, decoder) "
        f"| {plain:.1f} | | |",
        f"| the whole ablation study ({units} units x {len(clips)} clips) | {total:.1f} | "
        f"<= {TARGET_MINUTES * 60:.0f} s | {verdict} |",
        "",
        f"Per unit after the first: {(total - plain) / max(units - 1, 1):.1f} s on average "
        "(the decoder only: the encoder's outputs are computed once, by the baseline unit, and "
        "reused by every decoder head's unit).",
        "",
        "What the study printed:",
        "",
        *[f"> {line}" for line in lines_out],
        "",
    ]
    args.out.write_text("\n".join(table))
    print("\n".join(table))


if __name__ == "__main__":
    main()
