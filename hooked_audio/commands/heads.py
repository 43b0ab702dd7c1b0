"""`hooked-audio heads AUDIO...`: the decoder's cross-attention heads ranked by how well they
track reference word start times (`hooked_audio.models.whisper.head_timing`).

Reference times never come from the model: a clip of a pair set (the bundled pairs, a folder
written by `hooked-audio pairs build`, or one clean clip of such a folder) carries its words'
times in the manifest; any other clip needs `--words`, a CSV of `word,start,end` rows in
seconds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from hooked_audio.audio import load_audio
from hooked_audio.commands.arguments import add_model_argument, load_whisper_for, positive_int
from hooked_audio.models.whisper.head_timing import QUERIES, timed_clips
from hooked_audio.pairs.pair_set import MANIFEST
from hooked_audio.pairs.pair_set_words import pair_set_words
from hooked_audio.word_times import read_word_times
from hooked_audio.word_times.timed_clip import TimedClip


def add_heads_parser(sub) -> None:
    parser = sub.add_parser(
        "heads",
        help="rank the decoder's cross-attention heads by how well they track word start times",
    )
    parser.add_argument(
        "audio",
        nargs="+",
        help="'bundled' (the bundled pairs' clean clips), a pair-set folder, a clean clip of "
        "one, or any audio file with --words",
    )
    parser.add_argument(
        "--words",
        type=Path,
        nargs="+",
        default=None,
        metavar="FILE",
        help="reference word times, one file per AUDIO file, in the same order: a TextGrid "
        "(its 'words' tier), a CTM, or a CSV of word,start,end in seconds",
    )
    add_model_argument(parser)
    parser.add_argument(
        "--query",
        choices=QUERIES,
        default="predicting",
        help="the query position read for each word: the one predicting its first token "
        "(default, as openai-whisper's alignment) or that token itself",
    )
    parser.add_argument("--top", type=positive_int, default=10, help="heads to print (default: 10)")
    parser.add_argument(
        "--find",
        action="store_true",
        help="also choose a set of alignment heads: rank on every other clip, keep the top-k "
        "that time the remaining clips best with openai-whisper's DTW, and print it (with "
        "openai-whisper's base85 dump and HF's alignment_heads) against the model's heads",
    )
    parser.add_argument(
        "--max-heads",
        type=positive_int,
        default=10,
        help="with --find, the largest set tried (default: 10)",
    )
    parser.add_argument("--json", action="store_true", help="print every head's scores as JSON")
    parser.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="PNG",
        help="draw the best head's cross-attention on the first clip (tokens x time under its "
        "log-mel, reference words marked) into this PNG file",
    )


def _pair_set_clips(source: str) -> list[TimedClip]:
    from hooked_audio.pairs import PairSet, bundled_pairs

    pairs = bundled_pairs() if source == "bundled" else PairSet.load(source)
    clips = timed_clips(pairs)
    if not clips:
        raise ValueError(
            f"No pair of {source} carries word times (meta['clean_words']); build the pairs "
            "with `hooked-audio pairs build`, or pass audio files with --words."
        )
    return clips


def load_clips(sources: list[str], word_files: list[Path] | None) -> list[TimedClip]:
    """The clips and their reference word times, from the command's arguments (see the module
    docstring); every problem is a one-line ValueError before any model loads."""
    if word_files is not None:
        if len(word_files) != len(sources):
            raise ValueError(
                f"--words gives {len(word_files)} CSV file(s) for {len(sources)} AUDIO "
                "argument(s): give one per audio file, in the same order."
            )
        for source in sources:
            if source == "bundled" or Path(source).is_dir():
                raise ValueError(
                    f"{source!r} carries its own word times (a pair set); --words is for "
                    "audio files: leave it out, or name the audio files."
                )
        return [
            TimedClip(source, load_audio(source), read_word_times(words))
            for source, words in zip(sources, word_files)
        ]
    clips = []
    for source in sources:
        if source == "bundled" or Path(source).is_dir():
            clips += _pair_set_clips(source)
            continue
        words = pair_set_words(Path(source))
        if words is None:
            raise ValueError(
                f"{source} has no reference word times: pass --words {Path(source).stem}.csv "
                "(word,start,end rows in seconds), or use a clean clip of a pair set (its "
                f"{MANIFEST} holds the times). The model's own word times would make the "
                "ranking circular."
            )
        clips.append(TimedClip(source, load_audio(source), words))
    return clips


def _print_table(table: pd.DataFrame, top: int, model_name: str, clips, query: str) -> None:
    n_words = int(table["n_words"].iloc[0])
    print(
        f"Cross-attention heads of {model_name} against the reference word starts of "
        f"{len(clips)} clip(s), {n_words} words; query: the position {query} each word's "
        "first token. Start = the most attended 20 ms position of the clip."
    )
    shown = table.head(top).copy()
    shown["alignment_head"] = shown["alignment_head"].map({True: "*", False: ""})
    shown["within_100ms"] = (100 * shown["within_100ms"]).round(0)
    shown = shown.rename(
        columns={
            "mean_error_ms": "mean error (ms)",
            "median_error_ms": "median error (ms)",
            "within_100ms": "% within 100 ms",
            "alignment_head": "alignment head",
        }
    ).drop(columns="n_words")
    print(shown.round(1).to_string())
    if top < len(table):
        print(f"({len(table) - top} more heads; --top {len(table)} shows all)")
    aligned = table[table["alignment_head"]]
    if len(aligned):
        print(
            f"The model's alignment heads (*, what openai-whisper's word timing uses): mean "
            f"error {aligned['mean_error_ms'].mean():.1f} ms; best of them ranks "
            f"{int(aligned.index.min())} of {len(table)}."
        )


def run_heads_command(args: argparse.Namespace) -> int:
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        raise ValueError(f"--plot {args.plot}: name a .png file to draw into.")
    clips = load_clips(args.audio, args.words)
    from hooked_audio.models.whisper.head_timing import rank_cross_attention_heads

    if args.find and len(clips) < 2:
        raise ValueError("--find needs at least 2 clips: it ranks on some and holds others out.")
    model = load_whisper_for("heads", args.model)
    table = rank_cross_attention_heads(model, clips, query=args.query)
    search = _find(model, clips, args.max_heads) if args.find else None
    if args.plot is not None:
        _plot_best_head(model, clips[0], table, args.plot)
    if args.json:
        print(
            json.dumps(
                {
                    "model": args.model,
                    "query": args.query,
                    "clips": [clip.name for clip in clips],
                    "heads": table.reset_index().to_dict(orient="records"),
                    "found": None if search is None else _found_json(model, search),
                }
            )
        )
        return 0
    _print_table(table, args.top, args.model, clips, args.query)
    if args.plot is not None:
        print(f"The best head's cross-attention on {clips[0].name}: {args.plot}")
    if search is not None:
        _print_found(model, search)
    return 0


def _find(model, clips: list[TimedClip], max_heads: int):
    """Rank on clips 0, 2, 4, ...; choose the set size on clips 1, 3, 5, ..."""
    from hooked_audio.models.whisper.alignment_heads import find_alignment_heads

    return find_alignment_heads(model, clips[::2], clips[1::2], max_heads=max_heads)


def _found_json(model, search) -> dict:
    return {
        "heads": search.hf_alignment_heads(),
        "openai_dump": search.openai_dump(model).decode(),
        "held_out": search.held_out,
        "current": search.current,
        "sizes": search.sizes.to_dict(orient="records"),
    }


def _print_found(model, search) -> None:
    found, current = search.held_out, search.current
    print(
        f"\nAlignment heads chosen (ranked on every other clip, the set size chosen by "
        f"openai-whisper's DTW on the other {found['n_words']} words): {search.heads}\n"
        f"  held-out word-start error: {found['mean_error_ms']:.0f} ms "
        f"({100 * found['within_100ms']:.0f}% within 100 ms); the model's current heads: "
        f"{current['mean_error_ms']:.0f} ms ({100 * current['within_100ms']:.0f}%)\n"
        f"  openai-whisper: model.set_alignment_heads({search.openai_dump(model)!r})\n"
        f"  HF: generation_config.alignment_heads = {search.hf_alignment_heads()}"
    )


def _plot_best_head(model, clip: TimedClip, table: pd.DataFrame, path: Path) -> None:
    from matplotlib import pyplot as plt

    from hooked_audio.models.whisper.cross_attention_map import cross_attention_map

    best = table.iloc[0]
    layer, head = int(best["layer"]), int(best["head"])
    found = cross_attention_map(model, clip, layer, head)
    title = (
        f"{Path(clip.name).name}: decoder layer {layer}, head {head} (best at timing words: "
        f"mean start error {best['mean_error_ms']:.0f} ms)"
    )
    drawn = found.plot(title=title)
    path.parent.mkdir(parents=True, exist_ok=True)
    drawn.ax.figure.savefig(path, dpi=120)
    plt.close(drawn.ax.figure)
