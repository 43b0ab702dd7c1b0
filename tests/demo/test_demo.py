"""`hooked-audio demo` prints and writes results that mean something: in every bundled content
pair the changed word's frames, and only those, bring the answer back, and the report it
points to exists and draws."""

from __future__ import annotations

import numpy as np
import pytest

from hooked_audio import cli
from hooked_audio import demo as demo_module
from hooked_audio.demo import DEFAULT_OUT, demo_study, strongest_words
from hooked_audio.headless_browser import NoBrowserError, screenshot_page
from hooked_audio.pairs import bundled_pairs


@pytest.fixture(scope="module")
def demo_run(tiny_en, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    result, report = demo_study(tiny_en, out_dir, layers=(0, 3), out=lines.append, progress=False)
    return result, report, "\n".join(lines)


def test_demo_study_finds_each_changed_word_slow(demo_run):
    result, report, printed = demo_run
    content = [pair for pair in bundled_pairs() if pair.kind == "content"]
    assert result.pairs == sorted(pair.id for pair in content) and not result.skipped
    found = strongest_words(result)
    for pair in content:
        changed = pair.differing_words[0]
        assert [(layer, word) for layer, word, *_ in found[pair.id]] == [(0, changed), (3, changed)]
        rows = result.rows.query("pair == @pair.id and direction == 'denoise'")
        others = rows[rows["label"].str.strip(".,") != changed]["normalised"]
        assert all(value > 0.8 for _, _, value, _ in found[pair.id])
        assert others.abs().max() < 0.2
        assert f"{pair.id}: the frames that bring the answer back: layer 0: {changed!r}" in printed
    assert report.name == "report.html" and report.stat().st_size > 100_000
    assert "3 pairs (0 left out) x 2 direction(s) x 1 activation(s) x 2 layer(s)" in printed


def test_strongest_words_reads_the_requested_direction_slow(demo_run):
    result, *_ = demo_run
    noise = strongest_words(result, "noise")
    # noising any word other than the changed one leaves the clean answer (recovery ~1)
    for pair in bundled_pairs():
        if pair.kind == "content":
            assert all(word != pair.differing_words[0] for _, word, _, _ in noise[pair.id])


def test_demo_command_line_arguments(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(cli, "demo", lambda **kwargs: calls.append(kwargs))
    assert cli.main(["demo"]) == 0
    assert cli.main(["demo", "--layers", "1", "2", "--out", str(tmp_path)]) == 0
    assert calls[0]["layers"] is None and calls[0]["out_dir"] == DEFAULT_OUT
    assert calls[1]["layers"] == [1, 2] and calls[1]["out_dir"] == tmp_path


def test_demo_refuses_bad_layers_before_loading(monkeypatch, capsys):
    monkeypatch.setattr(cli, "demo", lambda **kwargs: pytest.fail("the model should not load"))
    with pytest.raises(SystemExit):
        cli.main(["demo", "--layers", "-1"])
    assert "--layers" in capsys.readouterr().err


def test_report_screenshot_is_cropped_and_not_blank_slow(demo_run, tmp_path):
    _, report, _ = demo_run
    try:
        shot = screenshot_page(report, tmp_path / "top.png", width=900, height=700)
    except NoBrowserError as error:
        pytest.skip(f"{error}: cannot take the report's screenshot")
    from PIL import Image

    with Image.open(shot) as image:
        assert image.size == (900, 700)
        pixels = np.asarray(image.convert("RGB")) / 255.0
    assert (pixels.min(axis=-1) < 0.9).mean() > 0.02  # text and figures, not a blank page


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--ablate-layer", "9"], "--ablate-layer: Layers must lie in [0, 4)"),
        (["--layers", "2", "7"], "Layers must lie in [0, 4)"),
    ],
)
def test_demo_checks_layers_against_the_model_before_any_work(
    monkeypatch, capsys, tiny_en, argv, message
):
    monkeypatch.setattr(demo_module.HookedWhisper, "from_pretrained", lambda name: tiny_en)
    monkeypatch.setattr(
        demo_module, "transcribe_and_ablate", lambda *a: pytest.fail("work began before the check")
    )
    with pytest.raises(SystemExit) as stop:
        cli.main(["demo", *argv])
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_demo_refuses_an_out_that_is_a_file(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(
        demo_module.HookedWhisper, "from_pretrained", lambda name: pytest.fail("model loaded")
    )
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as stop:
        cli.main(["demo", "--out", str(tmp_path / "file")])
    assert stop.value.code == 2 and "is a file, not a folder" in capsys.readouterr().err
