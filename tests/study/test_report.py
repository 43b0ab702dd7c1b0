"""A study's report.html: figures at the cells' true times, the numbers and the audio inline,
no network needed, and it renders in a headless browser."""

from __future__ import annotations

import base64
import io
import json
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from hooked_audio.cli import main
from hooked_audio.headless_browser import NoBrowserError, headless_chromium, wait_for
from hooked_audio.pairs import bundled_pairs
from hooked_audio.study import StudySpec, run_study
from hooked_audio.study import report_figures as figures
from hooked_audio.study.report import ONSET_BIN_S, write_report
from hooked_audio.study.result import StudyResult

PAIR = "paris-berlin"


@pytest.fixture(scope="module")
def pair():
    return {p.id: p for p in bundled_pairs()}[PAIR]


@pytest.fixture(scope="module")
def study(tiny_en, pair, tmp_path_factory):
    """One content pair, layer 0, both directions, and its report (with transcripts)."""
    out = tmp_path_factory.mktemp("study")
    spec = StudySpec(layers=(0,), directions=("denoise", "noise"))
    result = run_study(
        tiny_en,
        [pair],
        spec,
        out_dir=out,
        progress=False,
        out=lambda line: None,
        model_name="tiny.en",
    )
    path = write_report(result, [pair], out, model=tiny_en)
    return result, path


def _array(value) -> np.ndarray:
    """A figure dict's array: plotly >= 6 stores numbers as base64 typed arrays."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return array.reshape(value["shape"]) if "shape" in value else array
    return np.asarray(value)


class _Links(HTMLParser):
    """Every `src` / `href` of the page's own tags (script bodies are not parsed as tags)."""

    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.links += [(tag, value) for name, value in attrs if name in ("src", "href") and value]


def _links(html: str) -> list[tuple[str, str]]:
    parser = _Links()
    parser.feed(html)
    return parser.links


def _data_uris(html: str, mime: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(rf'"data:{mime};base64,([^"]+)"', html)]


def test_pair_figure_draws_each_cell_at_its_true_time(study):
    result, _ = study
    rows = result.rows
    fig = figures.pair_figure(rows, ["denoise", "noise"], ["resid_pre"], duration_s=3.0).to_dict()
    bars = {trace["name"]: trace for trace in fig["data"] if trace["type"] == "bar"}
    assert sorted(bars) == ["resid_pre|denoise", "resid_pre|noise"]
    for name, bar in bars.items():
        cells = rows[rows["direction"] == name.split("|")[1]]
        start, width = _array(bar["base"]).astype(float), _array(bar["x"])
        np.testing.assert_allclose(start, cells["start_s"], atol=1e-9)
        np.testing.assert_allclose(start + width, cells["end_s"], atol=1e-9)
        assert list(bar["y"]) == [f"layer {layer}" for layer in cells["layer"]]
        assert list(bar["text"]) == list(cells["label"])  # the words, from the rows
        np.testing.assert_allclose(_array(bar["marker"]["color"]), cells["normalised"])
        assert [c[0] for c in bar["customdata"]] == list(cells["label"])
    widths = rows["end_s"] - rows["start_s"]
    assert widths.max() > 2 * widths.min()  # unequal cells, not equal columns
    onset, offset = rows[["onset_s", "offset_s"]].iloc[0]
    spans = [(s["x0"], s["x1"]) for s in fig["layout"]["shapes"]]
    assert spans == [(onset, offset)] * 2  # the changed word outlined in both panels
    assert fig["layout"]["xaxis"]["range"] == [0, 3.0]


def test_summary_figures_plot_the_summaries(study):
    result, _ = study
    curves, summary = result.onset_curves(ONSET_BIN_S), result.word_summary()
    fig = figures.onset_figure(curves, "resid_pre", ["denoise", "noise"], ONSET_BIN_S).to_dict()
    means = [t for t in fig["data"] if t.get("name") == "layer 0"]
    assert len(means) == 2  # one per direction
    for trace, direction in zip(means, ["denoise", "noise"]):
        c = curves[curves["direction"] == direction].sort_values("bin_s")
        np.testing.assert_allclose(_array(trace["x"]), c["bin_s"] + ONSET_BIN_S / 2, atol=1e-6)
        np.testing.assert_allclose(_array(trace["y"]), c["mean"])
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert titles[0].startswith("denoise: sufficiency") and titles[1].startswith("noise: nec")
    bars = figures.word_bar_figure(summary, "resid_pre", ["denoise", "noise"]).to_dict()["data"]
    assert [b["name"] for b in bars] == ["changed word", "other words"] * 2
    for bar in bars:
        direction = "denoise" if bar["xaxis"] == "x" else "noise"
        s = summary[(summary["direction"] == direction) & (summary["cells"] == bar["name"])]
        assert list(bar["x"]) == ["layer 0"]
        np.testing.assert_allclose(_array(bar["y"]), s["mean"])
    x = [0.0, 0.1, 0.2, 0.3]
    bx, by = figures.interval_polygons(np.array(x), [1, np.nan, 2, 3], [2, np.nan, 4, 5])
    assert bx == [0.0, 0.0, None, 0.2, 0.3, 0.3, 0.2] and by == [2, 1, None, 4, 5, 3, 2]


def test_report_is_one_self_contained_file(study, pair):
    result, path = study
    html = path.read_text(encoding="utf-8")
    assert path.name == "report.html"
    links = _links(html)
    assert [tag for tag, _ in links if tag == "script"] == []  # plotly.js is inline
    assert [link for link in links if re.match(r"(https?:)?//", link[1])] == []
    assert {tag for tag, _ in links} == {"a", "audio"}  # the pair links, download, clips
    assert "Plotly.newPlot" in html and "plotly.js v" in html[:20000]
    numbers = json.loads(_data_uris(html, "application/json")[0])
    assert 'download="study.json"' in html
    # JSON writes NaN (e.g. the head of a layer-wide act) as null: back to the rows' dtypes
    decoded = pd.DataFrame(numbers["rows"]).astype(result.rows.dtypes.to_dict())
    pd.testing.assert_frame_equal(decoded, result.rows)
    assert numbers["model"] == "tiny.en" and numbers["spec"]["layers"] == [0]
    summary = pd.DataFrame(numbers["word_summary"])
    np.testing.assert_allclose(summary["mean"], result.word_summary()["mean"])
    assert len(numbers["onset_curves"]) == len(result.onset_curves(ONSET_BIN_S))
    clips = _data_uris(html, "audio/flac")
    assert len(clips) == 2
    for data, audio in zip(clips, [pair.clean_audio, pair.corrupt_audio]):
        decoded, rate = sf.read(io.BytesIO(data), dtype="float32")
        assert rate == 16000 and len(decoded) == len(audio)
        np.testing.assert_allclose(decoded, audio, atol=1e-4)  # 16-bit
    header = [
        "tiny.en",
        "1 studied, none left out",
        "denoise, noise",
        "the encoder&#x27;s residual stream before each layer (resid_pre)",
    ]
    texts = [
        pair.clean_text,
        pair.corrupt_text,
        "the model hears (greedy, no timestamps (whisper.decode)): We will meet in Paris",
    ]
    for text in header + texts:
        assert text in html, text
    assert re.search(r"<dd>\d{4}-\d\d-\d\d \d\d:\d\d</dd>", html)  # the date
    assert "blocks.{l}" not in html  # no hook-name template in the header


def test_report_needs_the_studied_pairs_audio(study, tmp_path):
    result, _ = study
    with pytest.raises(ValueError, match="paris-berlin"):
        write_report(result, [], tmp_path)


def test_a_study_without_pairs_still_reports_why(tmp_path):
    skipped = [{"pair": "window-pitch", "reason": "changes no word"}]
    path = write_report(StudyResult.from_rows([], skipped, StudySpec()), [], tmp_path)
    html = path.read_text(encoding="utf-8")
    assert "No pair was studied" in html and "0 studied, 1 left out" in html
    assert "<b>window-pitch</b>: changes no word" in html
    assert json.loads(_data_uris(html, "application/json")[0])["rows"] == []


def test_study_command_writes_the_report_unless_told_not_to(
    tiny_en, pair, tmp_path, capsys, monkeypatch
):
    from hooked_audio.models.whisper import HookedWhisper

    monkeypatch.setattr("hooked_audio.study.pair_source.load_pairs", lambda source: [pair])
    monkeypatch.setattr(HookedWhisper, "from_pretrained", lambda name: tiny_en)
    args = ["study", "bundled", "--out", str(tmp_path), "--layers", "0", "--directions", "noise"]
    assert main([*args, "--no-report", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["report"] is None
    assert not (tmp_path / "report.html").exists()
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"Report: {tmp_path / 'report.html'}"
    assert "Download the numbers" in (tmp_path / "report.html").read_text()


def _browser():
    """Headless Chromium driven by Selenium, or skip."""
    try:
        return headless_chromium()
    except NoBrowserError as error:
        pytest.skip(f"{error}: cannot check that the report renders")


def test_report_renders_in_a_headless_browser(study, pair, tmp_path):
    _, path = study
    browser = _browser()
    try:
        browser.get(path.as_uri())
        plots = wait_for(
            browser,
            """const plots = [...document.querySelectorAll('.js-plotly-plot')];
            const sizes = plots.map(p => [p.clientWidth, p.clientHeight,
                                          p.querySelectorAll('svg').length]);
            return plots.length && sizes.every(s => s[2] > 0) ? sizes : null;""",
        )
        assert plots and len(plots) == 3  # onset curves, word bars, the pair's map
        assert all(width > 0 and height > 0 and svgs > 0 for width, height, svgs in plots)
        audio = wait_for(
            browser,
            """const clips = [...document.querySelectorAll('audio')];
            return clips.every(a => a.readyState >= 1) ? clips.map(a => a.duration) : null;""",
        )
        assert audio and len(audio) == 2 and all(d > 0 for d in audio)
        np.testing.assert_allclose(audio, len(pair.clean_audio) / 16000, atol=0.01)
        errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert not errors, errors
        height = browser.execute_script("return document.body.scrollHeight")
        browser.set_window_size(1300, height + 200)
        shot = tmp_path / "report.png"
        browser.save_screenshot(str(shot))
    finally:
        browser.quit()
    from matplotlib.image import imread

    pixels = imread(shot)[..., :3]
    assert (pixels.min(axis=-1) < 0.9).mean() > 0.02  # not a blank page
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100  # the colour maps drawn


def test_a_noise_comparison_is_drawn_and_in_the_numbers(study, pair, tmp_path):
    result, _ = study
    table = pd.DataFrame(
        {
            "corruption": ["minimal pair", "white noise 0 dB (clip, seed 0)"],
            "layer": [0, 0],
            "peak": [1.01, 0.48],
            "sharpness": [0.95, float("nan")],
            "usable_pairs": [1, 0],
            "pairs": [1, 1],
        }
    )
    html = write_report(result, [pair], tmp_path, comparison=table).read_text(encoding="utf-8")
    numbers = json.loads(_data_uris(html, "application/json")[0])
    decoded = pd.DataFrame(numbers["corruptions"]).astype(table.dtypes.to_dict())
    pd.testing.assert_frame_equal(decoded, table)  # NaN travels as null and comes back
    fig = figures.corruption_bar_figure(table)
    peak, sharpness = fig.data
    assert list(peak.x) == list(table["corruption"]) and list(peak.y) == [1.01, 0.48]
    assert sharpness.y[0] == 0.95 and np.isnan(sharpness.y[1])
    assert "minimal pairs against noise" in html
