"""`hooked-audio export-hf OUT`: a Whisper checkpoint as a HF transformers folder.

What TransformerLens's own loader (`TransformerBridge.boot_transformers(OUT)`), HF pipelines and
other HF tools read, made offline from any checkpoint hooked_audio loads: the packaged tiny.en
and base, a CTranslate2 (faster-whisper) folder, an openai-whisper `.pt`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hooked_audio.commands.arguments import add_model_argument
from hooked_audio.safe_files import check_output_folder, claim_output_folder


def add_export_hf_parser(sub) -> None:
    parser = sub.add_parser(
        "export-hf",
        help="write a Whisper checkpoint as a HF transformers folder (for TransformerLens's "
        "TransformerBridge and other HF tools)",
    )
    parser.add_argument("out", type=Path, help="folder to write (config, weights, tokenizer)")
    add_model_argument(parser)
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a folder another command wrote"
    )


def run_export_hf_command(args: argparse.Namespace) -> int:
    from hooked_audio.models.whisper.loading.huggingface_export import export_hf_directory

    check_output_folder(args.out, "export-hf", args.overwrite)
    folder = export_hf_directory(args.model, claim_output_folder(args.out, "export-hf"))
    print(f"wrote {args.model} as a HF Whisper folder: {folder}")
    if not (folder / "tokenizer.json").is_file():
        print("no tokenizer.json travels with this checkpoint: the folder has none (the")
        print("TransformerBridge does not need one; decode tokens with openai-whisper's)")
    return 0
