"""Every code block of README.md and docs/*.md is checked here, so a block that fails as
written fails CI. Each document is one case of `test_doc_blocks`, with the file name as its
id. Blocks that run real models keep to a few layers and cells, so that the whole module runs
in well under two minutes on 2 CPU cores (a document that came to need over ~20 s would move
to a parametrized `test_doc_blocks_slow`).

- ```python blocks run as written: each document's blocks in order, in one namespace (as a
  reader pastes them), in a fresh temporary working directory, with matplotlib's Agg backend
  and torch seeded. Their lines stay within ruff's 100 characters (ruff leaves Markdown alone).
- Placeholders. Blocks use bundled data where they can (`importlib.resources.files(
  "hooked_audio") / "data" / "jfk.flac"`, `hooked_audio.pairs.bundled_pairs()`, the packaged
  tiny.en). A block that keeps a name for the reader's own model or data (`hf_model`, `ckpt`,
  `clip.flac`, ...) is preceded, on the line right before its fence, by a hidden HTML comment

      <!-- doc-test: setup=tiny_qwen2_audio -->

  naming an entry of `SETUPS` below: a function that puts the placeholders into the block's
  namespace (tiny random models built offline, bundled audio) and may write files into the
  working directory, run just before the block. Later blocks of the document see them too. A
  setup name that `SETUPS` lacks, or a comment that is not right before a python block, fails.
- ```bash blocks are not run (they install packages); every command in them must exist: `pip
  install` of the project's extras (setup.cfg) or of its requirements, a console script of
  setup.cfg with a subcommand it accepts, `python -m` of an importable module, `python
  tutorials/NAME.py` of a tutorial script (tests/tutorials runs each), an executable
  `scripts/NAME`.
- ```text blocks are directory trees (README's layout): every path they name exists.
- A fence of any other kind, or none, fails: no block goes unchecked.
- Repository paths named anywhere in a document (`tests/...`, `hooked_audio/...`, `docs/...`,
  `benchmarks/...`, `tutorials/...`, `scripts/...`) exist.
"""

from __future__ import annotations

import configparser
import contextlib
import importlib.util
import io
import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from matplotlib import pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = {"README.md": ROOT / "README.md"} | {
    path.name: path for path in sorted((ROOT / "docs").glob("*.md"))
}
MAX_LINE = 100
FENCE = re.compile(r"^```(\S*)\s*$")
DIRECTIVE = re.compile(r"^<!-- doc-test: setup=(\w+) -->$")
REPO_FOLDERS = "tests|hooked_audio|docs|benchmarks|tutorials|scripts"
REPO_PATH = re.compile(rf"(?<![\w/.-])((?:{REPO_FOLDERS})/[\w./-]*[\w/])")
SAMPLE_RATE = 16000
EMOTIONS = [" happy", " sad", " angry"]


@dataclass
class Block:
    kind: str  # the fence's language
    code: str
    line: int  # line number of the block's first line of code
    setup: str | None  # the `<!-- doc-test: setup=... -->` right before the fence


def parse_blocks(path: Path) -> list[Block]:
    lines = path.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "```"), None)
        assert end is not None, f"{path.name}:{i + 1}: code block never closed"
        directive = DIRECTIVE.match(lines[i - 1]) if i else None
        blocks.append(
            Block(
                kind=opening.group(1),
                code="\n".join(lines[i + 1 : end]) + "\n",
                line=i + 2,
                setup=directive.group(1) if directive else None,
            )
        )
        i = end + 1
    directives = [n + 1 for n, line in enumerate(lines) if line.startswith("<!-- doc-test")]
    used = [b.line - 2 for b in blocks if b.setup and b.kind == "python"]
    assert directives == used, (
        f"{path.name}: every `<!-- doc-test: setup=NAME -->` goes on the line right before a "
        f"```python fence (lines {directives}, used {used})"
    )
    return blocks


# ------------------------------------------------------------------ setups for placeholders
def bundled_clip():
    from hooked_audio import load_audio

    return load_audio(files("hooked_audio") / "data" / "jfk.flac")


def tiny_qwen2_audio(namespace: dict) -> None:
    """The audio-LM examples' placeholders: `hf_model`, a tiny random Qwen2-Audio
    (`tests/helpers/audio_lm_models.py`); `ckpt`, a directory holding it and a tiny processor
    (`tests/helpers/audio_lm_processor.py`, plus single tokens for " happy", " sad", " angry");
    `clip.flac` in the working directory, 0.9 s of the bundled JFK clip (the tiny processor
    hears 1 s); `inputs` (= `clean_inputs`), the processor's inputs for that clip and a
    question, `corrupt_inputs` the same with white noise over the clip; `metric`, the logit
    difference " happy" - " sad" at the last position. Like the other tiny setups, it leaves
    torch on one intra-op thread (a second only adds contention on models this small)."""
    import soundfile
    from tokenizers import AddedToken

    from hooked_audio import HookedAudioLM
    from hooked_audio.corruptions import white_noise
    from hooked_audio.metrics import LogitDiff
    from tests.helpers.audio_lm_models import qwen2_audio_hf
    from tests.helpers.audio_lm_processor import tiny_processor

    torch.set_num_threads(1)
    hf_model = qwen2_audio_hf(seed=0)
    processor = tiny_processor()
    processor.tokenizer.add_tokens([AddedToken(word, normalized=False) for word in EMOTIONS])
    ckpt = Path("tiny-qwen2-audio").resolve()
    hf_model.save_pretrained(ckpt)
    processor.save_pretrained(ckpt)
    clip = bundled_clip()[int(1.4 * SAMPLE_RATE) : int(2.3 * SAMPLE_RATE)]
    soundfile.write("clip.flac", clip, SAMPLE_RATE)

    helper = HookedAudioLM.from_hf(hf_model)
    helper.set_processor(processor)

    def ask(audio) -> dict:
        content = [{"type": "audio", "audio": audio}, {"type": "text", "text": "Emotion?"}]
        return helper.prepare_inputs(conversation=[{"role": "user", "content": content}])

    clean = ask(clip)
    happy, sad = processor.tokenizer.convert_tokens_to_ids(EMOTIONS[:2])
    namespace.update(
        hf_model=hf_model,
        ckpt=str(ckpt),
        inputs=clean,
        clean_inputs=clean,
        corrupt_inputs=ask(white_noise(clip, snr_db=10.0, seed=0)),
        metric=LogitDiff(position=-1, correct=happy, incorrect=sad),
    )


def tiny_wav2vec2(namespace: dict) -> None:
    """`hf_model`, a tiny random wav2vec2 CTC model (`tests/helpers/audio_encoder_models.py`),
    and `waveform`, the first second of the bundled JFK clip (16 kHz); one intra-op thread."""
    from transformers import Wav2Vec2ForCTC

    from tests.helpers.audio_encoder_models import hf_config, perturb

    torch.set_num_threads(1)
    namespace.update(
        hf_model=perturb(Wav2Vec2ForCTC(hf_config()).eval()),
        waveform=bundled_clip()[:SAMPLE_RATE],
    )


def study_audio_lm(namespace: dict) -> None:
    """`audio_lm_ckpt`: a tiny random Qwen2-Audio checkpoint folder whose processor hops 10 ms
    in 3 s windows, as a study needs (`tests/helpers/audio_lm_models.audio_lm_checkpoint`)."""
    from tests.helpers.audio_lm_models import audio_lm_checkpoint

    torch.set_num_threads(1)
    namespace["audio_lm_ckpt"] = str(audio_lm_checkpoint(Path("tiny-audio-lm").resolve()))


SETUPS: dict[str, Callable[[dict], None]] = {
    "tiny_qwen2_audio": tiny_qwen2_audio,
    "study_audio_lm": study_audio_lm,
    "tiny_wav2vec2": tiny_wav2vec2,
}


# ------------------------------------------------------------------ checks per kind of block
def run_python(path: Path, blocks: list[Block]) -> None:
    namespace: dict = {"__name__": f"doc_{path.stem}"}
    for block in blocks:
        if block.setup:
            assert block.setup in SETUPS, f"{path.name}:{block.line}: no setup {block.setup!r}"
            SETUPS[block.setup](namespace)
        # Leading newlines keep the Markdown's line numbers in tracebacks.
        source = "\n" * (block.line - 1) + block.code
        exec(compile(source, str(path), "exec"), namespace)


def setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config


def requirement_names(text: str) -> set[str]:
    names = (re.split(r"[<>=!~\[ ;]", line.strip())[0] for line in text.splitlines())
    return {name.lower() for name in names if name}


def check_pip_install(args: list[str], config: configparser.ConfigParser) -> None:
    assert args[:1] == ["install"], f"pip {' '.join(args)}: only `pip install` is checked"
    extras = set(config["options.extras_require"])
    for arg in args[1:]:
        if arg == "-e":
            continue
        local = re.fullmatch(r"\.(?:\[([\w,-]+)\])?", arg)
        if local:
            missing = set((local.group(1) or "").split(",")) - extras - {""}
            assert not missing, f"pip install {arg}: setup.cfg has no extra {missing}"
        else:
            name = re.split(r"[<>=!~\[]", arg)[0].lower()
            known = requirement_names(config["options"]["install_requires"])
            assert name in known, f"pip install {arg}: {name} is not a requirement in setup.cfg"


def check_console_script(argv: list[str], entry_point: str) -> None:
    module, function = entry_point.split(":")
    main = getattr(importlib.import_module(module), function)
    with contextlib.redirect_stdout(io.StringIO()), pytest.raises(SystemExit) as stop:
        main([*argv[1:], "--help"])
    assert stop.value.code == 0, f"`{' '.join(argv)}`: {argv[0]} refuses these arguments"


def check_bash(path: Path, block: Block) -> None:
    config = setup_cfg()
    scripts = dict(
        (part.strip() for part in line.split("=", 1))
        for line in config["options.entry_points"]["console_scripts"].splitlines()
        if line.strip()
    )
    for line in block.code.splitlines():
        line = line.split("#", 1)[0].strip()
        for command in filter(None, (part.strip() for part in line.split("&&"))):
            argv = shlex.split(command)
            if argv[0] == "pip":
                check_pip_install(argv[1:], config)
            elif argv[0] in scripts:
                check_console_script(argv, scripts[argv[0]])
            elif argv[:2] == ["python", "-m"]:
                assert importlib.util.find_spec(argv[2]), f"`{command}`: no module {argv[2]}"
            elif argv[0] == "python" and len(argv) == 2 and argv[1].startswith("tutorials/"):
                assert (ROOT / argv[1]).is_file(), f"`{command}`: no tutorial {argv[1]}"
            elif argv[0].startswith("scripts/"):
                script = ROOT / argv[0]
                assert script.is_file() and os.access(script, os.X_OK), f"`{command}`: not run"
            else:
                pytest.fail(f"{path.name}:{block.line}: no check for `{command}`; add one here")


def check_tree(path: Path, block: Block) -> None:
    """Names sit in the first columns, indented two spaces per level; descriptions and their
    continuation lines start further right."""
    parents: list[str] = []
    for line in block.code.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        entry = re.match(r"[\w.-]+/?(?:, [\w.-]+/?)*", line.strip())
        if not entry or indent >= 16:
            continue
        parents = parents[: indent // 2]
        names = entry.group(0).split(", ")
        for name in names:
            where = ROOT.joinpath(*parents, name)
            assert where.exists(), f"{path.name}: the tree names {where.relative_to(ROOT)}"
        if len(names) == 1 and names[0].endswith("/"):
            parents.append(names[0].rstrip("/"))


def check_document(name: str) -> None:
    path = DOCUMENTS[name]
    blocks = parse_blocks(path)
    for block in blocks:
        assert block.kind in ("python", "bash", "text"), (
            f"{name}:{block.line}: a ```{block.kind} block is neither run nor checked; use "
            "python, bash or text (see tests/docs/test_doc_blocks.py)"
        )
    for block in blocks:
        if block.kind == "python":
            for n, line in enumerate(block.code.splitlines(), block.line):
                assert len(line) <= MAX_LINE, f"{name}:{n}: {len(line)} > {MAX_LINE} characters"
        elif block.kind == "bash":
            check_bash(path, block)
        else:
            check_tree(path, block)
    for named in sorted(set(REPO_PATH.findall(path.read_text()))):
        assert (ROOT / named).exists(), f"{name} names {named}, which does not exist"
    run_python(path, [block for block in blocks if block.kind == "python"])


@pytest.fixture
def doc_environment(tmp_path, monkeypatch):
    """A fresh working directory, a seeded torch and no figures or thread setting left over."""
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.manual_seed(0)
    yield
    plt.close("all")
    torch.set_num_threads(threads)


#: documents whose blocks need an optional extra: the module it installs, and the test marker
#: that runs them in the extra's environment (the README's test command's second step)
NEEDS = {"sae.md": ("sae_lens", pytest.mark.sae)}


#: documents whose blocks take over ~20 s on 2 cores (measured with --durations)
SLOW_DOCUMENTS = ("study.md", "patching.md")


def _cases(names):
    return [pytest.param(name, marks=NEEDS[name][1]) if name in NEEDS else name for name in names]


@pytest.mark.parametrize("name", _cases([d for d in DOCUMENTS if d not in SLOW_DOCUMENTS]))
def test_doc_blocks(name, doc_environment):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name][0], reason=f"{name} needs the extra that installs it")
    check_document(name)


@pytest.mark.parametrize("name", _cases([d for d in DOCUMENTS if d in SLOW_DOCUMENTS]))
def test_doc_blocks_slow(name, doc_environment):
    check_document(name)
