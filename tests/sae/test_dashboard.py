"""Feature dashboards: a hand-built SAE whose features fire on rows we can compute by brute force
over a small real store (tiny.en, encoder layer 1, two bundled clips), so the top examples, their
clip, time and word, the densities, the figures' times and words, the page's audio snippets and
numbers are all checked against what they must be, and the page renders in headless Chromium."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path

import matplotlib
import numpy as np
import pytest

pytest.importorskip("sae_lens", reason="SAE tests need SAELens: pip install -e '.[sae]'")

import soundfile as sf
import torch
from sae_lens import StandardSAE, StandardSAEConfig

from hooked_audio.activation_store import ActivationStore, clips_from_pairs, write_activations
from hooked_audio.headless_browser import NoBrowserError, headless_chromium, wait_for
from hooked_audio.models.whisper.activation_source import WhisperEncoderSource
from hooked_audio.pairs import bundled_pairs
from hooked_audio.sae.dashboard import (
    FeatureExample,
    density_figure,
    example_figure,
    feature_examples,
    logit_effects,
    snippet_span,
    write_dashboard,
)

matplotlib.use("Agg")

pytestmark = pytest.mark.sae


HOOK = "encoder.blocks.1.hook_resid_post"
STEP = 0.02
#: f0: the top 15% of rows on a direction; f1: the top 3% (fewer rows than k); f2: dead;
#: f3: every row; f4: half the rows
QUANTILES = [0.85, 0.97, None, None, 0.5]


@pytest.fixture(scope="module")
def clips():
    """The clean clips of two bundled pairs (two sentences, with word times)."""
    return [c for c in clips_from_pairs(bundled_pairs()[:2]) if c.id.endswith(".clean")]


@pytest.fixture(scope="module")
def store(tiny_en, clips, tmp_path_factory) -> ActivationStore:
    folder = tmp_path_factory.mktemp("dashboard-store")
    source = WhisperEncoderSource(tiny_en, "tiny.en")
    write_activations(source, clips, [HOOK], folder, progress=False)
    return ActivationStore(folder)


def _threshold(projection: np.ndarray, quantile: float) -> float:
    """A threshold near `quantile` of `projection`, midway across the widest gap between
    neighbouring values there, so float32 and float64 agree on which rows pass it."""
    values = np.sort(projection)
    near = np.arange(int((quantile - 0.02) * len(values)), int((quantile + 0.02) * len(values)))
    widest = near[np.argmax(values[near + 1] - values[near])]
    return float(values[widest] + values[widest + 1]) / 2


def hand_built_sae(store: ActivationStore, hook: str = HOOK) -> StandardSAE:
    """Feature f = relu(x . u_f + b_f) (unit u_f, b_dec = 0), with b_f set from the store's
    projections so each feature fires on a known share of the rows (QUANTILES)."""
    x = store.array(HOOK).astype(np.float64)
    directions = np.random.default_rng(0).standard_normal((x.shape[1], len(QUANTILES)))
    directions /= np.linalg.norm(directions, axis=0)
    projections = x @ directions
    bias = np.array([-_threshold(projections[:, f], q) for f, q in enumerate(QUANTILES) if q])
    bias = np.insert(bias, 2, [-1e4, 1.0 - projections[:, 3].min()])  # dead; always on
    cfg = StandardSAEConfig(d_in=x.shape[1], d_sae=len(QUANTILES))
    cfg.metadata.hook_name = hook
    cfg.metadata.model_name = "tiny.en"
    sae = StandardSAE(cfg)
    with torch.no_grad():
        sae.W_enc.copy_(torch.tensor(directions, dtype=torch.float32))
        sae.b_enc.copy_(torch.tensor(bias, dtype=torch.float32))
        sae.W_dec.copy_(torch.tensor(directions.T, dtype=torch.float32))
        sae.b_dec.zero_()
    return sae


@pytest.fixture(scope="module")
def sae(store):
    return hand_built_sae(store)


def brute_force(sae, store) -> np.ndarray:
    """Every row's feature activations `[rows, d_sae]`, in float64 numpy, from the weights."""
    W, b = sae.W_enc.detach().double().numpy(), sae.b_enc.detach().double().numpy()
    return np.maximum(store.array(HOOK).astype(np.float64) @ W + b, 0.0)


@pytest.fixture(scope="module")
def examples(sae, store):
    return feature_examples(sae, store, k=8, chunk_rows=37)  # chunks straddle the clips


@pytest.fixture(scope="module")
def dashboard(sae, store, clips, tiny_en, tmp_path_factory) -> Path:
    return write_dashboard(
        sae, store, clips, tmp_path_factory.mktemp("dashboard"), n_features=3, k=3, model=tiny_en
    )


def test_top_examples_are_the_largest_rows_with_their_clip_time_and_word(sae, store, examples):
    acts, frame = brute_force(sae, store), store.frame(HOOK)
    assert examples.rows == len(frame) and examples.hook == HOOK and examples.k == 8
    for f in range(sae.cfg.d_sae):
        column = acts[:, f]
        active = np.flatnonzero(column > 0)
        order = active[np.argsort(-column[active], kind="stable")][:8]
        got = examples.examples(f)
        assert len(got) == len(order) == min(8, len(active))
        np.testing.assert_allclose([e.value for e in got], column[order], rtol=1e-5, atol=1e-6)
        for example, row in zip(got, order):
            expected = frame.iloc[row]
            assert (example.clip, example.window, example.position) == (
                expected["clip"],
                expected["window"],
                expected["position"],
            )
            assert example.time_s == pytest.approx(expected["time_s"])
            word = expected["word"] if isinstance(expected["word"], str) else None
            assert example.word == word
        assert np.isnan(examples.values[f, len(order) :]).all()  # no example past the active rows
        assert examples.density[f] == pytest.approx(len(active) / len(column))
        assert examples.active_rows[f] == len(active)
        if len(active):
            assert examples.mean_active[f] == pytest.approx(column[active].mean(), rel=1e-5)
        else:
            assert np.isnan(examples.mean_active[f])
    assert 0 < examples.active_rows[1] < 8  # fewer active rows than k: a short list
    assert examples.examples(2) == [] and list(examples.dead) == [2]
    assert examples.dead_fraction == pytest.approx(1 / 5) and examples.density[3] == 1.0
    assert {e.word for e in examples.examples(3)} - {None}  # some examples fall on words


def test_chunking_and_a_subset_of_features_give_the_same_examples(sae, store, examples):
    whole = feature_examples(sae, store, k=8)  # one chunk per clip
    # (a matmul's last bit depends on the batch it runs in)
    np.testing.assert_allclose(whole.values, examples.values, rtol=1e-6)
    np.testing.assert_array_equal(whole.clip, examples.clip)
    np.testing.assert_array_equal(whole.time_s, examples.time_s)
    subset = feature_examples(sae, store, features=[4, 0], k=8, chunk_rows=50)
    assert list(subset.features) == [4, 0]
    for f in (4, 0):
        got, want = subset.examples(f), examples.examples(f)
        assert [(e.clip, e.position, e.word) for e in got] == [
            (e.clip, e.position, e.word) for e in want
        ]
        np.testing.assert_allclose([e.value for e in got], [e.value for e in want], rtol=1e-6)
        assert subset.density[subset.index_of(f)] == examples.density[f]
    with pytest.raises(KeyError, match="not among those examined"):
        subset.examples(1)


def test_top_features_skip_dead_ones_and_rank_by_density_or_max(sae, store, examples):
    acts = brute_force(sae, store)
    density, largest = (acts > 0).mean(0), acts.max(0)
    live = [f for f in range(5) if density[f] > 0]
    by_density = examples.top_features(10, by="density")
    assert sorted(by_density) == live  # all live features, dead feature 2 skipped
    assert list(density[by_density]) == sorted(density[live], reverse=True)
    assert by_density[0] == 3  # fires on every row
    by_max = examples.top_features(2, by="max")
    assert by_max == [live[i] for i in np.argsort(-largest[live], kind="stable")[:2]]
    with pytest.raises(ValueError, match="by must be one of"):
        examples.top_features(2, by="mean")


def test_bad_arguments_are_refused_with_the_fix(sae, store):
    for k in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="k must be an integer >= 1"):
            feature_examples(sae, store, k=k)
    with pytest.raises(ValueError, match=r"in \[0, 5\).*\[5\]"):
        feature_examples(sae, store, features=[0, 5])
    with pytest.raises(ValueError, match=r"in \[0, 5\).*\[-1\]"):
        feature_examples(sae, store, features=[-1])
    with pytest.raises(ValueError, match=r"unique; repeated: \[1\]"):
        feature_examples(sae, store, features=[1, 0, 1])
    with pytest.raises(ValueError, match="empty"):
        feature_examples(sae, store, features=[])
    with pytest.raises(TypeError, match="integer"):
        feature_examples(sae, store, features=[0.5])
    with pytest.raises(KeyError, match="holds.*encoder.blocks.1.hook_resid_post.*pass hook="):
        feature_examples(sae, store, hook="encoder.blocks.3.hook_resid_post")
    narrow = StandardSAE(StandardSAEConfig(d_in=10, d_sae=4))
    with pytest.raises(ValueError, match="reads 10 features but the store's .* have 384"):
        feature_examples(narrow, store, hook=HOOK)
    with pytest.raises(ValueError, match="pass hook="):
        feature_examples(StandardSAE(StandardSAEConfig(d_in=384, d_sae=4)), store)
    with pytest.raises(ValueError, match="chunk_rows must be"):
        feature_examples(sae, store, chunk_rows=0)


def _artists(fig):
    mel_ax, curve_ax = fig.axes
    (line,) = [line for line in curve_ax.lines if line.get_gid() == "activation"]
    (marker,) = [line for line in curve_ax.lines if line.get_gid() == "example"]
    words = [t for t in mel_ax.texts if t.get_gid() == "word"]
    return mel_ax, curve_ax, line, marker, words


@pytest.mark.parametrize("pick", ["top", "start", "end"])
def test_example_figure_draws_the_activation_at_true_times_over_the_clips_mel(
    sae, store, clips, examples, tiny_en, pick
):
    """The top example of feature 0, and feature 3 (always on) near the clip's start and end,
    where the crop is clipped to the clip."""
    import matplotlib.pyplot as plt

    example = examples.examples(0)[0]
    if pick != "top":
        frame = store.frame(HOOK)
        row = 5 if pick == "start" else int(np.flatnonzero(frame["clip"] == clips[1].id)[-3])
        at = frame.iloc[row]
        example = FeatureExample(
            3, 0, float(brute_force(sae, store)[row, 3]), at["clip"], int(at["window"]),
            int(at["position"]), float(at["time_s"]), None,
        )  # fmt: skip
    clip = {c.id: c for c in clips}[example.clip]
    fig = example_figure(sae, store, example, clip)
    try:
        mel_ax, curve_ax, line, marker, words = _artists(fig)
        start, end = snippet_span(example.time_s, clip.seconds)
        assert start == max(0.0, example.time_s - 1.0)
        assert end == min(clip.seconds, example.time_s + 1.0)
        assert mel_ax.get_xlim() == pytest.approx((start, end))
        # the curve: one step per stored row overlapping the crop, over its true 20 ms
        frame = store.frame(HOOK, clip.id)
        acts = brute_force(sae, store)[store.frame(HOOK)["clip"].to_numpy() == clip.id]
        inside = ((frame["time_s"] + STEP > start) & (frame["time_s"] < end)).to_numpy()
        x, y = line.get_xdata(), line.get_ydata()
        np.testing.assert_allclose(x[0::2], frame["time_s"][inside], atol=1e-9)
        np.testing.assert_allclose(x[1::2], frame["time_s"][inside] + STEP, atol=1e-9)
        np.testing.assert_allclose(y[0::2], acts[inside, example.feature], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(y[0::2], y[1::2])
        assert marker.get_xdata()[0] == pytest.approx(example.time_s + STEP / 2)
        assert marker.get_ydata()[0] == pytest.approx(example.value)
        # the words: the clip's words that overlap the crop, labelled inside their spans
        expected = [(w, s, e) for w, s, e in clip.words if e > start and s < end]
        assert [t.get_text() for t in words] == [w for w, _, _ in expected] != []
        for text, (_, w_start, w_end) in zip(words, expected):
            assert max(w_start, start) <= text.get_position()[0] <= min(w_end, end)
        # the image: the clip's own log-mel columns at their times
        (image,) = mel_ax.images
        left, right = image.get_extent()[:2]
        assert left <= start + 1e-9 and right >= end - 1e-9 and right - left < end - start + 0.02
        mel = tiny_en.to_mel(clip.audio)[0].numpy()
        first = round(left / 0.01)
        np.testing.assert_allclose(
            image.get_array(), mel[:, first : first + image.get_array().shape[1]], atol=1e-5
        )
    finally:
        plt.close(fig)


def test_density_figure_counts_dead_features_apart(examples):
    import matplotlib.pyplot as plt

    fig = density_figure(examples.density, examples.rows)
    try:
        (ax,) = fig.axes
        assert sum(p.get_height() for p in ax.patches) == 4  # the live features
        assert "4 of 5 features fired; 1 dead" in ax.get_title()
        bars = [(p.get_x(), p.get_x() + p.get_width()) for p in ax.patches]
        # from the rarest live feature (1) to the one on every row (3): log10 1 = 0
        assert bars[0][0] == pytest.approx(np.log10(examples.density[1]))
        assert bars[-1][1] == pytest.approx(0.0, abs=1e-12)
    finally:
        plt.close(fig)


def _data_uris(html: str, mime: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(rf'"data:{mime};base64,([^"]+)"', html)]


def test_dashboard_page_holds_the_snippets_figures_and_numbers(
    dashboard, sae, store, clips, examples
):
    html = dashboard.read_text(encoding="utf-8")
    assert dashboard.name == "dashboard.html"
    assert not re.search(r'(src|href)="(https?:)?//', html)  # self-contained
    shown = examples.top_features(3, by="max")
    assert re.findall(r'<section id="feature-(\d+)"', html) == [str(f) for f in shown]
    for text in (HOOK, "tiny.en", "<dd>384</dd>", "<dd>5</dd>", "20.0% (1 of 5 features"):
        assert text in html, text
    assert "cross-attention" in html and "no direct read-out" in html  # an encoder hook
    # 1 of 5 dead: no warning; the warning is for SAEs most of whose features never fire
    assert ("most of this SAE's features never fire" in html) == (examples.dead_fraction > 0.5)
    for f in shown:
        flagged = "position artefact" in html.split(f'id="feature-{f}"')[1].split("</section>")[0]
        assert flagged == examples.position_artefact(f)
    numbers = json.loads((dashboard.parent / "features.json").read_text())
    assert numbers["rows"] == examples.rows and numbers["d_sae"] == 5
    np.testing.assert_allclose(numbers["density"], examples.density)
    assert [r["feature"] for r in numbers["features"]] == shown
    by_id = {c.id: c for c in clips}
    wavs = _data_uris(html, "audio/flac")
    listed = [e for record in numbers["features"] for e in record["examples"]]
    assert len(wavs) == len(listed) == sum(min(3, len(examples.examples(f))) for f in shown)
    for record in numbers["features"]:
        f = record["feature"]
        assert record["density"] == pytest.approx(examples.density[f])
        assert record["mean_active"] == pytest.approx(examples.mean_active[f])
        assert record["logit_effect"] is None  # an encoder hook
        for got, want in zip(record["examples"], examples.examples(f)[:3]):
            assert got["clip"] == want.clip and got["time_s"] == pytest.approx(want.time_s)
            assert got["value"] == pytest.approx(want.value)
    for data, example in zip(wavs, listed):
        audio, rate = sf.read(io.BytesIO(data), dtype="float32")
        start, end = example["snippet_s"]
        clip = by_id[example["clip"]].audio
        assert rate == 16000 and start == pytest.approx(max(0.0, example["time_s"] - 1.0))
        np.testing.assert_allclose(audio, clip[round(start * rate) : round(end * rate)], atol=1e-4)
    assert len(_data_uris(html, "image/png")) == 1 + len(listed)  # density + one per example


def _browser():
    """Headless Chromium driven by Selenium, or skip."""
    try:
        return headless_chromium()
    except NoBrowserError as error:
        pytest.skip(f"{error}: cannot check that the dashboard renders")


def test_dashboard_renders_in_a_headless_browser(dashboard, tmp_path):
    browser = _browser()
    try:
        browser.get(dashboard.as_uri())
        audio = wait_for(
            browser,
            """const clips = [...document.querySelectorAll('audio')];
            return clips.length && clips.every(a => a.readyState >= 1)
                ? clips.map(a => [a.duration, parseFloat(a.dataset.duration)]) : null;""",
        )
        assert audio, "the audio snippets did not load"
        durations, expected = np.array(audio).T
        np.testing.assert_allclose(durations, expected, atol=0.002)
        assert (expected > 0.9).all()
        images = wait_for(
            browser,
            """const images = [...document.querySelectorAll('img')];
            if (!images.length || !images.every(i => i.complete && i.naturalWidth > 0)) return null;
            return images.map(i => {
                const c = document.createElement('canvas');
                c.width = i.naturalWidth; c.height = i.naturalHeight;
                const g = c.getContext('2d'); g.drawImage(i, 0, 0);
                const d = g.getImageData(0, 0, c.width, c.height).data;
                const colours = new Set();
                let dark = 0;
                for (let p = 0; p < d.length; p += 4 * 7) {
                    colours.add((d[p] << 16) | (d[p + 1] << 8) | d[p + 2]);
                    if (d[p] + d[p + 1] + d[p + 2] < 600) dark++;
                }
                return [i.clientWidth, colours.size, dark / (d.length / 28)];
            });""",
        )
        assert images and len(images) == len(audio) + 1
        for width, _, dark in images:
            assert width > 300 and dark > 0.02  # drawn, at a readable size
        assert all(colours > 100 for _, colours, _ in images[1:])  # the log-mel's colour map
        errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert not errors, errors
        height = browser.execute_script("return document.body.scrollHeight")
        browser.set_window_size(1300, min(height + 200, 4000))
        browser.save_screenshot(str(tmp_path / "dashboard.png"))
    finally:
        browser.quit()


def test_the_audio_of_every_store_clip_is_needed(sae, store, clips, tmp_path):
    with pytest.raises(ValueError, match=re.escape(f"not given in `clips`: ['{clips[1].id}']")):
        write_dashboard(sae, store, clips[:1], tmp_path)
    with pytest.raises(TypeError, match="StoreClips"):
        write_dashboard(sae, store, [c.audio for c in clips], tmp_path)
    other = {clips[0].id: clips[0], clips[1].id: type(clips[1])(clips[1].id, clips[0].audio)}
    with pytest.raises(ValueError, match="not the audio the store was written from"):
        write_dashboard(sae, store, other, tmp_path)
    with pytest.raises(ValueError, match="k must be"):
        write_dashboard(sae, store, clips, tmp_path, k=0)
    with pytest.raises(ValueError, match=r"repeated: \[0\]"):
        write_dashboard(sae, store, clips, tmp_path, features=[0, 0])
    assert not (tmp_path / "dashboard.html").exists()


def test_a_decoder_hook_shows_the_direct_logit_effect(sae, store, clips, tiny_en, tmp_path):
    """The page's decoder branch, on the store relabelled as a decoder residual hook."""
    decoder_hook = "decoder.blocks.3.hook_resid_post"
    folder = tmp_path / "store"
    shutil.copytree(store.directory, folder)
    (folder / HOOK).rename(folder / decoder_hook)
    manifest = json.loads((folder / "store.json").read_text())
    manifest["hooks"] = [decoder_hook]
    manifest["features"] = {decoder_hook: manifest["features"][HOOK]}
    (folder / "store.json").write_text(json.dumps(manifest))
    decoder_sae = hand_built_sae(store, decoder_hook)
    path = write_dashboard(
        decoder_sae, folder, {c.id: c for c in clips}, tmp_path / "out", [4, 0], k=1, model=tiny_en
    )
    html = path.read_text(encoding="utf-8")
    numbers = json.loads((tmp_path / "out" / "features.json").read_text())
    W_U = tiny_en.W_U.detach()
    for record in numbers["features"]:
        logits = decoder_sae.W_dec.detach()[record["feature"]] @ W_U
        effect = record["logit_effect"]
        top, bottom = torch.topk(logits, 8), torch.topk(-logits, 8)
        assert [t["id"] for t in effect["boosted"]] == top.indices.tolist()
        assert [t["id"] for t in effect["suppressed"]] == bottom.indices.tolist()
        np.testing.assert_allclose([t["value"] for t in effect["boosted"]], top.values, rtol=1e-5)
        for token in effect["boosted"] + effect["suppressed"]:
            text = tiny_en.tokenizer.decode([token["id"]])
            assert token["token"] == text or (not text and token["token"].startswith("<|"))
    assert html.count('<table class="logits">') == 2 and "ln_final" in html
    assert "cross-attention" not in html
    direct = logit_effects(decoder_sae, tiny_en, [4])[4]["boosted"][0]
    assert direct == numbers["features"][0]["logit_effect"]["boosted"][0]
    without = write_dashboard(decoder_sae, folder, clips, tmp_path / "bare", [4], k=1)
    assert "Pass model= to show" in without.read_text(encoding="utf-8")


def test_position_artefacts_are_flagged_and_listed_last():
    """A feature whose top examples all sit in a window's first 40 ms marks where windows
    start, not a sound: flagged, and ranked after every other live feature however dense."""
    from hooked_audio.sae.dashboard.examples import FeatureExamples

    nan = float("nan")
    ex = FeatureExamples(
        hook="encoder.blocks.2.hook_resid_post",
        model_name="tiny.en",
        d_in=4,
        d_sae=3,
        k=2,
        rows=100,
        clips=["a"],
        features=np.array([0, 1, 2]),
        values=np.array([[5.0, 4.0], [3.0, 2.0], [nan, nan]]),
        clip=np.array([["a", "a"], ["a", "a"], ["", ""]], dtype=object),
        window=np.zeros((3, 2), dtype=int),
        position=np.array([[0, 1], [40, 1], [0, 0]]),
        time_s=np.array([[0.0, 0.02], [0.8, 0.02], [nan, nan]]),
        word=np.array([[None, None], ["so", None], [None, None]], dtype=object),
        active_rows=np.array([60, 10, 0]),
        density=np.array([0.6, 0.1, 0.0]),
        mean_active=np.array([4.5, 2.5, nan]),
    )
    assert ex.position_artefact(0) and not ex.position_artefact(1)
    assert not ex.position_artefact(2)  # dead, not an artefact
    assert ex.top_features(3, "density") == [1, 0]
    assert ex.top_features(3, "max") == [1, 0]
