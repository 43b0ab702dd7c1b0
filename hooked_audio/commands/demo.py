"""`hooked-audio demo`: the arguments of `hooked_audio.demo.demo`."""

from __future__ import annotations

from pathlib import Path

from hooked_audio.commands.arguments import add_model_argument, non_negative_int
from hooked_audio.demo import BUNDLED_CLIP, DEFAULT_OUT


def add_demo_parser(sub) -> None:
    parser = sub.add_parser(
        "demo",
        help="the main job on the packaged tiny.en: transcribe and ablate the bundled clip, "
        "then a small study on the bundled minimal pairs with its report.html",
    )
    add_model_argument(parser)
    parser.add_argument(
        "--audio",
        type=Path,
        default=BUNDLED_CLIP,
        help="audio file to transcribe and ablate (default: the bundled JFK clip)",
    )
    parser.add_argument(
        "--ablate-word",
        default="Americans",
        help="word whose encoder frames are zeroed in the ablated run",
    )
    parser.add_argument(
        "--ablate-layer",
        type=non_negative_int,
        default=0,
        help="encoder layer whose residual stream (resid_pre) is zeroed",
    )
    parser.add_argument(
        "--layers",
        type=non_negative_int,
        nargs="+",
        default=None,
        help="encoder layers of the study (default: all)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"folder for the study's results and report.html (default: {DEFAULT_OUT})",
    )
