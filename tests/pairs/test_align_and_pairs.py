import importlib.resources
import json

import numpy as np
import pytest

import hooked_audio
from hooked_audio.audio.errors import AudioInputError
from hooked_audio.corruptions import speed
from hooked_audio.corruptions.align import AlignedPair, _log_mel, align_pair
from hooked_audio.pairs import MinimalPair, PairSet


@pytest.fixture(scope="module")
def clip():
    path = importlib.resources.files("hooked_audio") / "data" / "jfk.flac"
    return hooked_audio.load_audio(str(path))[: 4 * 16000]


def _frame_corr(a, b):
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    return float(((a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1) + 1e-12)).mean())


def test_align_with_itself_is_identity(clip):
    res = align_pair(clip, clip)
    assert isinstance(res, AlignedPair)
    assert res.score == pytest.approx(0.0, abs=1e-9)
    n = len(clip) // 160
    np.testing.assert_array_equal(res.path, np.stack([np.arange(n), np.arange(n)], 1))
    np.testing.assert_allclose(res.warped, clip, atol=1e-6)


def test_align_speed_pair_warps_onto_clean_timeline(clip):
    fast = speed(clip, 1.1)
    res = align_pair(clip, fast)
    assert res.warped.shape == clip.shape and res.warped.dtype == np.float32
    # the path ends near (n_clean, n_corrupt) and is monotone
    assert np.all(np.diff(res.path, axis=0) >= 0)
    assert tuple(res.path[-1]) == (len(clip) // 160 - 1, len(fast) // 160 - 1)
    # the corrupt clip is 1.1x faster, so mid-clip the matched corrupt frame is j ~ i / 1.1
    mid = res.path[len(res.path) // 2]
    assert mid[1] == pytest.approx(mid[0] / 1.1, abs=8)
    unwarped = np.zeros_like(clip)
    unwarped[: len(fast)] = fast[: len(clip)]
    ref = _log_mel(clip)
    warped_corr = _frame_corr(ref, _log_mel(res.warped))
    unwarped_corr = _frame_corr(ref, _log_mel(unwarped))
    assert warped_corr > unwarped_corr + 0.08, (warped_corr, unwarped_corr)


def test_offset_ms_measures_a_shift(clip):
    assert align_pair(clip, clip).offset_ms() == 0.0
    late = np.concatenate([np.zeros(800, np.float32), clip[:-800]])  # 50 ms later
    res = align_pair(clip, late)
    assert res.offset_ms() == pytest.approx(50.0, abs=10.0)
    # leaving out everything but the first 0.5 s (silence-padded start) changes the average
    assert res.offset_ms(exclude_s=[(0.5, 10.0)]) != res.offset_ms()
    assert res.offset_ms(exclude_s=[(0.0, 10.0)]) == 0.0


def test_score_orders_self_speed_noise(clip):
    noise = np.random.default_rng(0).standard_normal(len(clip)).astype(np.float32) * 0.1
    s_self = align_pair(clip, clip).score
    s_speed = align_pair(clip, speed(clip, 1.1)).score
    s_noise = align_pair(clip, noise).score
    assert s_self < s_speed < s_noise
    assert s_noise > 2 * s_speed


def test_align_errors(clip):
    with pytest.raises(AudioInputError, match="empty"):
        align_pair(np.zeros(0, np.float32), clip)
    bad = clip.copy()
    bad[10] = np.nan
    with pytest.raises(AudioInputError, match="NaN"):
        align_pair(clip, bad)
    with pytest.raises(AudioInputError, match="16 kHz"):
        align_pair(clip, clip, sample_rate=22050)
    with pytest.raises(AudioInputError, match="shorter than 3 frames"):
        align_pair(clip, clip[:400])
    with pytest.raises(AudioInputError, match="hop_s must be 0.01"):
        align_pair(clip, clip, hop_s=0.02)


def _pair(pid, clip, n=8000, **kw):
    rng = np.random.default_rng(len(pid))
    corrupt = (clip[:n] + 0.01 * rng.standard_normal(n)).astype(np.float32)
    corrupt[0] = 1.7  # out of range: saved clipped to 1.0
    args = dict(
        id=pid,
        kind="content",
        clean_text="ask not",
        corrupt_text="ask now",
        differing_words=["not"],
        spans_s=[(0.1, 0.3)],
        clean_audio=clip[:n],
        corrupt_audio=corrupt,
        answer={"correct": " not", "incorrect": " now"},
        alignment_score=0.12,
    )
    args.update(kw)
    return MinimalPair(**args)


def test_pairset_round_trip(tmp_path, clip):
    ps = PairSet(
        [
            _pair("p0", clip),
            _pair("p1", clip, kind="noise", answer=None, alignment_score=None, spans_s=[]),
        ]
    )
    manifest = ps.save(tmp_path)
    lines = manifest.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["clean_audio"] == "p0_clean.flac"
    loaded = PairSet.load(tmp_path)
    assert len(loaded) == 2
    for a, b in zip(ps, loaded):
        assert (b.id, b.kind, b.clean_text, b.corrupt_text) == (
            a.id,
            a.kind,
            a.clean_text,
            a.corrupt_text,
        )
        assert b.differing_words == a.differing_words and b.spans_s == a.spans_s
        assert b.answer == a.answer and b.alignment_score == a.alignment_score
        for x, y in ((a.clean_audio, b.clean_audio), (a.corrupt_audio, b.corrupt_audio)):
            assert y.dtype == np.float32 and y.shape == x.shape
            np.testing.assert_allclose(y, np.clip(x, -1, 1), atol=1e-6, rtol=0)
    assert loaded[0].corrupt_audio[0] == pytest.approx(1.0, abs=1e-6)


def test_pairset_load_errors(tmp_path, clip):
    with pytest.raises(FileNotFoundError, match="manifest.jsonl"):
        PairSet.load(tmp_path)
    PairSet([_pair("p0", clip)]).save(tmp_path)
    (tmp_path / "p0_corrupt.flac").unlink()
    with pytest.raises(FileNotFoundError, match="p0_corrupt.flac"):
        PairSet.load(tmp_path)
    (tmp_path / "p0_corrupt.flac").write_text("not audio")
    with pytest.raises(AudioInputError, match=r"p0_corrupt.flac', which is not audio"):
        PairSet.load(tmp_path)
    manifest = tmp_path / "manifest.jsonl"
    for line, message in [("42", "is a int, not a pair"), ("[1, 2]", "is a list, not a pair")]:
        manifest.write_text(line + "\n")
        with pytest.raises(ValueError, match=rf"manifest.jsonl:1 {message}"):
            PairSet.load(tmp_path)
    manifest.write_bytes('{"id": "caf\u00e9"}\n'.encode("latin-1"))
    with pytest.raises(ValueError, match="is not UTF-8 text"):
        PairSet.load(tmp_path)


def test_pairset_mismatched_lengths(tmp_path, clip):
    import soundfile as sf

    PairSet([_pair("p0", clip)]).save(tmp_path)
    sf.write(str(tmp_path / "p0_corrupt.flac"), clip[:7000], 16000, subtype="PCM_24")
    with pytest.raises(AudioInputError, match="align_pair"):
        PairSet.load(tmp_path)
    with pytest.raises(AudioInputError, match="same length"):
        _pair("p1", clip, corrupt_audio=clip[:100])


def test_pair_validation_and_batches(clip):
    with pytest.raises(ValueError, match="kind"):
        _pair("p0", clip, kind="accent")
    with pytest.raises(ValueError, match="answer"):
        _pair("p0", clip, answer={"correct": " a"})
    ps = PairSet(_pair(f"p{i}", clip, n=800, spans_s=[(0.01, 0.04)]) for i in range(5))
    batches = list(ps.batches(2))
    assert [[p.id for p in b] for b in batches] == [["p0", "p1"], ["p2", "p3"], ["p4"]]
    with pytest.raises(ValueError, match="batch_size"):
        list(ps.batches(0))
    with pytest.raises(TypeError):
        ps.append("not a pair")
    assert isinstance(ps[1:3], PairSet) and len(ps[1:3]) == 2
