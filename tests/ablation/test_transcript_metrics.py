"""Transcript metrics against jiwer's own corpus computation and hand-counted cases."""

import math

import jiwer
import pytest

from hooked_audio.metrics.transcripts import clip_scores, repetition, text_normaliser


def test_clip_wer_and_cer_match_jiwer_after_normalisation():
    scores = clip_scores("The cat, sat on a mat!", 3.0, "the cat sat on the mat")
    assert scores["word_errors"] == 1 and scores["ref_words"] == 6
    assert scores["wer"] == pytest.approx(
        jiwer.wer("the cat sat on the mat", "the cat sat on a mat")
    )
    assert scores["cer"] == pytest.approx(
        jiwer.cer("the cat sat on the mat", "the cat sat on a mat")
    )


def test_hallucination_counts_words_not_fillers_or_punctuation():
    assert clip_scores("Um.", 10.0)["hallucination"] == 0
    assert clip_scores(" . ", 10.0)["hallucination"] == 0
    you = clip_scores("You", 10.0)
    assert you["hallucination"] == 1 and you["words_per_second"] == pytest.approx(0.1)


def test_empty_reference_counts_insertions_and_has_no_rate():
    scores = clip_scores("thank you", 5.0, "")
    assert scores["word_errors"] == 2 and scores["ref_words"] == 0 and math.isnan(scores["wer"])


def test_repetition_is_the_share_of_repeated_trigrams():
    assert repetition("you you you you".split()) == pytest.approx(0.5)
    assert repetition("a b c d e".split()) == 0.0
    assert repetition("a b".split()) == 0.0
    loop = ("thank you " * 20).split()
    assert repetition(loop) > 0.9


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="positive"):
        clip_scores("x", 0.0)
    with pytest.raises(ValueError, match="Unknown normaliser"):
        text_normaliser("french")
    assert text_normaliser("none")("  A,  b ") == "A, b"
