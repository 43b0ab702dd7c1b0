#!/usr/bin/env python3
"""Apply the Whisper contribution (upstream/transformer_lens/) to TransformerLens's 4.3.0
source distribution and run TransformerLens's own tests for it, beside its existing audio,
BART-family and registry tests.

    scripts/upstream_transformer_lens.py [--sdist PATH] [--work DIR] [pytest arguments]

The source distribution is downloaded from PyPI (`pip download --no-binary :all:`) into
~/.cache/hooked_audio/ unless `--sdist` names one. The contribution applies in two parts:
`registration-and-loader.patch` (edits to existing files, applied with `git apply`, which
refuses a patch that does not apply exactly) and new files, copied in (a file that already
exists is refused). The tests run on the patched tree (it comes first on the path), offline,
without TransformerLens's doctest and notebook plugins (dev dependencies not installed here)
but with its jaxtyping/beartype checks. Exit status: pytest's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "4.3.0"
ROOT = Path(__file__).resolve().parent.parent
CONTRIBUTION = ROOT / "upstream" / "transformer_lens"
PATCH = CONTRIBUTION / "registration-and-loader.patch"
#: files of the contribution that describe it rather than being part of the tree
NOT_IN_TREE = {"README.md", "PULL_REQUEST.md", PATCH.name}

NEW_TESTS = [
    "tests/unit/model_bridge/supported_architectures/test_whisper_adapter.py",
    "tests/integration/model_bridge/test_whisper_tiny.py",
]
#: TransformerLens's tests that the change could break and that run without the Hub
EXISTING_TESTS = [
    *(
        f"tests/unit/model_bridge/supported_architectures/test_{name}_adapter.py"
        for name in (
            "ast",
            "audio_flamingo3",
            "bart",
            "mbart",
            "glm_asr",
            "hubert",
            "qwen2_audio",
            "wav2vec2",
        )
    ),
    "tests/unit/benchmarks/test_audio_input_prep.py",
    "tests/unit/benchmarks/test_audio_text_forward.py",
    "tests/unit/model_bridge/test_audio_start_at_layer_guard.py",
    "tests/unit/tools/test_model_registry.py",
]
#: tests in those files that download a checkpoint from the Hub, with why they are left out
NEEDS_HUB = {
    "test_ast_boot_transformers_load_weights_false": "MIT/ast-finetuned-audioset",
}
#: TransformerLens's audio integration tests, left out whole: each boots a Hub checkpoint
HUB_ONLY_FILES = {
    "tests/integration/model_bridge/test_audio_frame_entry.py": "facebook/hubert-base-ls960",
    "tests/integration/model_bridge/test_wav2vec2_bridge.py": "facebook/wav2vec2-base",
    "tests/integration/model_bridge/test_qwen2_audio_adapter.py": (
        "trl-internal-testing/tiny-Qwen2AudioForConditionalGeneration"
    ),
}


def download_sdist(cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(f"transformer_lens-{VERSION}.tar.gz"))
    if found:
        return found[0]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"transformer-lens=={VERSION}",
            "-d",
            str(cache),
        ],
        check=True,
    )
    return cache / f"transformer_lens-{VERSION}.tar.gz"


def unpack(sdist: Path, work: Path) -> Path:
    with tarfile.open(sdist) as archive:
        archive.extractall(work, filter="data")
    tree = work / f"transformer_lens-{VERSION}"
    if not (tree / "transformer_lens" / "__init__.py").is_file():
        raise SystemExit(f"{sdist} does not unpack to a TransformerLens source tree")
    return tree


def apply_contribution(tree: Path) -> list[Path]:
    """Apply the patch, then copy the new files in (following the links into hooked_audio);
    returns the new files' paths in the tree."""
    subprocess.run(["git", "apply", "--check", str(PATCH)], cwd=tree, check=True)
    subprocess.run(["git", "apply", str(PATCH)], cwd=tree, check=True)
    added = []
    for source in sorted(CONTRIBUTION.rglob("*")):
        relative = source.relative_to(CONTRIBUTION)
        if source.is_dir() or str(relative) in NOT_IN_TREE:
            continue
        target = tree / relative
        if target.exists():
            raise SystemExit(f"{relative} already exists in TransformerLens {VERSION}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source.resolve(), target)
        added.append(relative)
    return added


def run_tests(tree: Path, pytest_args: list[str]) -> int:
    deselect = " or ".join(NEEDS_HUB)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--disable-warnings",
        "-o",
        "addopts=--jaxtyping-packages=transformer_lens,beartype.beartype",
        "-k",
        f"not ({deselect})",
        *NEW_TESTS,
        *EXISTING_TESTS,
        *pytest_args,
    ]
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(tree)}
    for name, why in {**NEEDS_HUB, **HUB_ONLY_FILES}.items():
        print(f"left out, needs the Hub: {name} ({why})")
    return subprocess.run(command, cwd=tree, env=environment).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", type=Path, help=f"transformer_lens-{VERSION}.tar.gz")
    parser.add_argument("--work", type=Path, help="where to unpack (default: a temporary folder)")
    args, pytest_args = parser.parse_known_args()
    sdist = args.sdist or download_sdist(Path.home() / ".cache" / "hooked_audio" / "sdists")
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        tree = unpack(sdist, work)
        for relative in apply_contribution(tree):
            print(f"added {relative}")
        print(f"applied {PATCH.name} to TransformerLens {VERSION}")
        return run_tests(tree, pytest_args)


if __name__ == "__main__":
    raise SystemExit(main())
