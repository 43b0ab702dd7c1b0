"""Finding alignment heads: the chosen set is the best-ranked heads, as many as time the
held-out clips best with openai-whisper's own DTW; its reported errors are what that DTW gives;
the model's heads are left as they were; the exports load in openai-whisper and name the same
heads for HF."""

from __future__ import annotations

import pytest
from whisper.model import Whisper

from hooked_audio.models.whisper.alignment_heads import (
    alignment_error,
    current_heads,
    find_alignment_heads,
)
from hooked_audio.models.whisper.head_timing import timed_clips
from hooked_audio.pairs import bundled_pairs


@pytest.fixture(scope="module")
def clips():
    return timed_clips(bundled_pairs())


def test_the_set_is_chosen_on_held_out_clips_slow(tiny_en, tiny_en_checkpoint, clips):
    before = current_heads(tiny_en)
    search = find_alignment_heads(tiny_en, clips[:3], clips[3:], max_heads=3)
    assert current_heads(tiny_en) == before
    ranked = list(zip(search.table["layer"], search.table["head"]))
    assert search.heads == ranked[: len(search.heads)]
    assert list(search.sizes["n_heads"]) == [1, 2, 3]
    best = search.sizes["mean_error_ms"].min()
    assert search.held_out["mean_error_ms"] == pytest.approx(best)
    assert search.held_out == pytest.approx(alignment_error(tiny_en, clips[3:], search.heads))
    assert search.current == pytest.approx(alignment_error(tiny_en, clips[3:]))
    assert search.held_out["n_words"] == sum(len(c.words) for c in clips[3:])

    reference = Whisper(tiny_en_checkpoint.dims)
    reference.set_alignment_heads(search.openai_dump(tiny_en))
    found = sorted(tuple(int(i) for i in p) for p in reference.alignment_heads.indices().T)
    assert found == sorted(search.heads)
    assert search.hf_alignment_heads() == [list(h) for h in search.heads]


def test_bad_searches_are_refused(tiny_en, clips):
    with pytest.raises(ValueError, match="both ranked on and held out"):
        find_alignment_heads(tiny_en, clips[:2], clips[1:3])
    with pytest.raises(ValueError, match="Give held-out clips"):
        find_alignment_heads(tiny_en, clips[:2], [])
    with pytest.raises(ValueError, match="max_heads must be an integer >= 1"):
        find_alignment_heads(tiny_en, clips[:2], clips[2:3], max_heads=0)
