"""`hooked-audio`: the library's command line.

`hooked-audio demo` runs the main job offline on the packaged tiny.en weights
(`hooked_audio.demo`); the other subcommands are the study, its pair sets, the Whisper lens,
`transcribe` (with encoder frames zeroed or patched), `patch` (one minimal pair of the user's
own recordings), `heads` (cross-attention heads ranked by how well they time words), `sae`
(train sparse autoencoders on encoder hooks, feature dashboards), `serve` (a local page
for probing the model) and `export-hf` (a checkpoint as a HF folder, for TransformerLens's
TransformerBridge). Each subcommand checks its arguments before a model loads; errors a
user can fix are printed as one line naming the problem, with exit status 2, never as a stack
trace.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hooked_audio import __version__
from hooked_audio.commands.ablate import add_ablate_parser, run_ablate_command
from hooked_audio.commands.demo import add_demo_parser
from hooked_audio.commands.export_hf import add_export_hf_parser, run_export_hf_command
from hooked_audio.commands.heads import add_heads_parser, run_heads_command
from hooked_audio.commands.lens import add_lens_parser, run_lens_command
from hooked_audio.commands.pairs import add_pairs_parser, run_pairs_command
from hooked_audio.commands.patch import add_patch_parser, run_patch_command
from hooked_audio.commands.sae import add_sae_parser, run_sae_command
from hooked_audio.commands.serve import add_serve_parser, run_serve_command
from hooked_audio.commands.study import add_study_parser, run_study_command
from hooked_audio.commands.transcribe import add_transcribe_parser, run_transcribe_command
from hooked_audio.demo import demo


def _run_demo(args: argparse.Namespace) -> int:
    demo(
        model_name=args.model,
        audio_path=args.audio,
        ablate_layer=args.ablate_layer,
        ablate_word=args.ablate_word,
        out_dir=args.out,
        layers=args.layers,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hooked-audio", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"hooked-audio {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    add_demo_parser(sub)
    add_study_parser(sub)
    add_lens_parser(sub)
    add_pairs_parser(sub)
    add_transcribe_parser(sub)
    add_patch_parser(sub)
    add_heads_parser(sub)
    add_sae_parser(sub)
    add_serve_parser(sub)
    add_export_hf_parser(sub)
    add_ablate_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run = {
        "demo": _run_demo,
        "study": run_study_command,
        "lens": run_lens_command,
        "pairs": run_pairs_command,
        "transcribe": run_transcribe_command,
        "patch": run_patch_command,
        "heads": run_heads_command,
        "sae": run_sae_command,
        "serve": run_serve_command,
        "export-hf": run_export_hf_command,
        "ablate": run_ablate_command,
    }[args.command]
    try:
        return run(args)
    except (ValueError, OSError, ImportError) as error:
        # The library's argument checks raise these with a message that names the fix (an
        # ImportError: an optional extra, such as sae for SAELens, is not installed).
        parser.exit(2, f"hooked-audio {args.command}: error: {error}\n")


if __name__ == "__main__":
    sys.exit(main())
