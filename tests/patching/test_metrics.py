"""Patching metrics: values against hand computations and invariants, inside TransformerLens's
own patching on a random HookedWhisper, and the answer of a real minimal pair on tiny.en."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
import transformer_lens.patching as tlp

from hooked_audio import HookedWhisper
from hooked_audio.metrics import (
    Accuracy,
    KLDivergence,
    LogitDiff,
    LogProb,
    PairAnswer,
    Probability,
    Recovery,
    first_difference,
    normalised_recovery,
)
from hooked_audio.models.whisper import answer_from_transcripts
from tests.helpers.whisper_models import random_dims

B, N, V = 3, 5, 11


@pytest.fixture
def logits() -> torch.Tensor:
    return torch.randn(B, N, V, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


# ----------------------------------------------------------------- LogitDiff
def test_logit_diff_equals_manual_indexing(logits):
    expected = logits[:, 2, 4] - logits[:, 2, 7]
    torch.testing.assert_close(LogitDiff(2, 4, 7, per_example=True)(logits), expected)
    torch.testing.assert_close(LogitDiff(2, 4, 7)(logits), expected.mean())
    torch.testing.assert_close(
        LogitDiff(-1, 4, 7)(logits), (logits[:, -1, 4] - logits[:, -1, 7]).mean()
    )


def test_logit_diff_token_sets_use_logsumexp(logits):
    row = logits[:, 1]
    expected = row[:, [1, 2, 3]].logsumexp(-1) - row[:, [5, 9]].logsumexp(-1)
    torch.testing.assert_close(LogitDiff(1, [1, 2, 3], (5, 9), per_example=True)(logits), expected)
    # ... which is log P(correct set) - log P(incorrect set).
    p = row.softmax(-1)
    torch.testing.assert_close(expected, p[:, [1, 2, 3]].sum(-1).log() - p[:, [5, 9]].sum(-1).log())
    # A one-element set is the token itself.
    torch.testing.assert_close(LogitDiff(1, [4], [6])(logits), LogitDiff(1, 4, 6)(logits))


def test_logit_diff_sign_flips_on_swap(logits):
    a = LogitDiff(3, [0, 1], 2, per_example=True)(logits)
    b = LogitDiff(3, 2, [0, 1], per_example=True)(logits)
    torch.testing.assert_close(a, -b)


def test_logit_diff_per_example_mean_is_the_scalar(logits):
    per = LogitDiff(0, 3, [5, 6], per_example=True)(logits)
    assert per.shape == (B,)
    scalar = LogitDiff(0, 3, [5, 6])(logits)
    assert scalar.ndim == 0
    torch.testing.assert_close(per.mean(), scalar)


def test_logit_diff_per_example_answers(logits):
    correct, incorrect = torch.tensor([1, 2, 3]), torch.tensor([4, 5, 6])
    expected = logits[torch.arange(B), 2, correct] - logits[torch.arange(B), 2, incorrect]
    torch.testing.assert_close(LogitDiff(2, correct, incorrect, per_example=True)(logits), expected)
    # Mixed: per-example correct against a shared incorrect set.
    mixed = LogitDiff(2, correct, [7, 8], per_example=True)(logits)
    torch.testing.assert_close(
        mixed, logits[torch.arange(B), 2, correct] - logits[:, 2, [7, 8]].logsumexp(-1)
    )
    # Per-example sets [batch, k].
    sets = torch.tensor([[1, 2], [3, 4], [5, 6]])
    out = LogitDiff(2, sets, 9, per_example=True)(logits)
    torch.testing.assert_close(out[1], logits[1, 2, [3, 4]].logsumexp(-1) - logits[1, 2, 9])


def test_logit_diff_is_differentiable(logits):
    x = logits.clone().requires_grad_()
    LogitDiff(1, 2, 3)(x).backward()
    assert x.grad[:, 1, 2].eq(1 / B).all() and x.grad[:, 1, 3].eq(-1 / B).all()
    assert x.grad.abs().sum() == pytest.approx(2.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(position=0, correct=[], incorrect=1), "empty token set"),
        (dict(position=0, correct=1, incorrect=[1, 2]), "share token"),
        (dict(position=0, correct=[1, 1], incorrect=2), "repeats"),
        (dict(position=0, correct=-1, incorrect=2), "negative"),
        (dict(position=0, correct=" Americans", incorrect=2), "to_single_token"),
        (dict(position=1.5, correct=1, incorrect=2), "position must be an integer"),
        (dict(position=0, correct=torch.tensor([1.0]), incorrect=2), "integer token ids"),
        (dict(position=0, correct=1, incorrect=2, per_example=1), "per_example"),
    ],
)
def test_logit_diff_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LogitDiff(**kwargs)


def test_metrics_check_the_logits_they_are_called_on(logits):
    with pytest.raises(ValueError, match="out of range for logits with 5 decoder positions"):
        LogitDiff(5, 1, 2)(logits)
    with pytest.raises(ValueError, match="out of range"):
        LogProb(-6, 1)(logits)
    with pytest.raises(ValueError, match=r"outside the vocabulary .*d_vocab=11"):
        LogitDiff(0, 11, 2)(logits)
    with pytest.raises(ValueError, match=r"\[batch, n_tokens, d_vocab\], got shape \(5, 11\)"):
        LogitDiff(0, 1, 2)(logits[0])
    with pytest.raises(ValueError, match="batch 3"):
        LogitDiff(0, torch.tensor([1, 2]), 3)(logits)
    with pytest.raises(ValueError, match="share a token id in example"):
        LogitDiff(0, torch.tensor([1, 2, 3]), torch.tensor([4, 2, 5]))(logits)


# ----------------------------------------------------------------- probabilities
def test_log_prob_and_probability_match_softmax(logits):
    log_p = logits[:, 3].log_softmax(-1)
    torch.testing.assert_close(LogProb(3, 6, per_example=True)(logits), log_p[:, 6])
    torch.testing.assert_close(
        LogProb(3, [2, 6], per_example=True)(logits), log_p[:, [2, 6]].logsumexp(-1)
    )
    torch.testing.assert_close(
        Probability(3, [2, 6], per_example=True)(logits), log_p[:, 2].exp() + log_p[:, 6].exp()
    )
    assert (LogProb(3, 6, per_example=True)(logits) <= 0).all()


def test_whole_vocabulary_has_log_prob_zero_and_probabilities_sum_to_one(logits):
    everything = list(range(V))
    torch.testing.assert_close(
        LogProb(1, everything, per_example=True)(logits),
        torch.zeros(B, dtype=logits.dtype),
        atol=1e-12,
        rtol=0,
    )
    total = sum(Probability(1, t, per_example=True)(logits) for t in range(V))
    torch.testing.assert_close(total, torch.ones(B, dtype=logits.dtype))


def test_half_precision_logits_are_scored_in_float32(logits):
    half = logits.to(torch.bfloat16)
    out = LogProb(1, list(range(V)))(half)
    assert out.dtype == torch.float32 and abs(out.item()) < 1e-5


def test_accuracy(logits):
    top = logits[:, 4].argmax(-1)  # greedy token per example
    other = (top + 1) % V
    assert (
        Accuracy(4, torch.stack([top, other], -1), per_example=True)(logits).tolist() == [1.0] * B
    )
    assert Accuracy(4, other, per_example=True)(logits).tolist() == [0.0] * B
    # A shared set holding the first example's top token only: accuracy 1/3 if the others differ.
    hits = [float(t == top[0]) for t in top.tolist()]
    acc = Accuracy(4, int(top[0]), per_example=True)(logits)
    assert acc.tolist() == hits
    torch.testing.assert_close(
        Accuracy(4, int(top[0]))(logits), torch.tensor(sum(hits) / B, dtype=logits.dtype)
    )
    assert Accuracy(4, list(range(V)))(logits).item() == 1.0


# ----------------------------------------------------------------- KL
def test_kl_of_reference_against_itself_is_zero(logits):
    assert KLDivergence(logits)(logits).item() == 0.0
    assert KLDivergence(logits, position=2, per_example=True)(logits).tolist() == [0.0] * B


def test_kl_equals_torch_kl_div(logits):
    other = logits + torch.randn(
        logits.shape, generator=torch.Generator().manual_seed(1), dtype=logits.dtype
    )
    ref_lp, lp = logits.float().log_softmax(-1), other.float().log_softmax(-1)
    at_two = F.kl_div(lp[:, 2], ref_lp[:, 2], reduction="batchmean", log_target=True)
    torch.testing.assert_close(KLDivergence(logits.float(), position=2)(other.float()), at_two)
    # Mean over positions, per example.
    per = F.kl_div(lp, ref_lp, reduction="none", log_target=True).sum(-1).mean(-1)
    out = KLDivergence(logits.float(), per_example=True)(other.float())
    torch.testing.assert_close(out, per)
    assert (out > 0).all()
    torch.testing.assert_close(KLDivergence(logits.float())(other.float()), per.mean())


def test_kl_handles_zero_probability_reference_tokens(logits):
    ref = logits.clone()
    ref[..., 0] = -torch.inf
    assert torch.isfinite(KLDivergence(ref)(logits))
    assert KLDivergence(ref)(ref).item() == 0.0


def test_kl_rejects_mismatched_logits(logits):
    with pytest.raises(ValueError, match="batch 2 but the reference logits have batch 3"):
        KLDivergence(logits)(logits[:2])
    with pytest.raises(ValueError, match="do not match the reference"):
        KLDivergence(logits)(logits[:, :4])
    with pytest.raises(ValueError, match="out of range"):
        KLDivergence(logits, position=7)


# ----------------------------------------------------------------- recovery
def test_normalised_recovery():
    assert normalised_recovery(2.0, 3.0, 2.0) == 0.0
    assert normalised_recovery(3.0, 3.0, 2.0) == 1.0
    assert normalised_recovery(2.5, 3.0, 2.0) == 0.5
    assert normalised_recovery(-1.0, -2.0, 0.0) == 0.5  # works for either sign of the gap
    values = torch.tensor([[0.0, 1.0], [0.5, 2.0]])
    out = normalised_recovery(values, torch.tensor([1.0, 2.0]), torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.0], [0.5, 1.0]]))
    with pytest.raises(ValueError, match="does not move the metric"):
        normalised_recovery(1.0, 2.0, 2.0)
    with pytest.raises(ValueError, match=r"index\(es\) \[1\]"):
        normalised_recovery(torch.zeros(2), torch.tensor([1.0, 2.0]), torch.tensor([0.0, 2.0]))


def test_recovery_wrapper_is_one_at_clean_and_zero_at_corrupt(logits):
    corrupt = logits.flip(-1)
    for metric in (
        LogitDiff(2, 1, [3, 4]),
        LogProb(1, 4, per_example=True),
        KLDivergence(logits, position=0),
    ):
        recovery = Recovery(metric, logits, corrupt)
        assert (recovery(logits) == 1).all() and (recovery(corrupt) == 0).all()
        assert recovery(logits).shape == recovery.clean_value.shape
    recovery = Recovery(LogitDiff(2, 1, 3, per_example=True), logits, corrupt)
    torch.testing.assert_close(recovery.clean_value, logits[:, 2, 1] - logits[:, 2, 3])
    torch.testing.assert_close(recovery.corrupt_value, corrupt[:, 2, 1] - corrupt[:, 2, 3])
    halfway = (logits + corrupt) / 2  # logit diff is linear in the logits
    torch.testing.assert_close(recovery(halfway), torch.full((B,), 0.5, dtype=logits.dtype))


def test_recovery_rejects_undefined_or_mismatched(logits):
    with pytest.raises(ValueError, match="does not move the metric"):
        Recovery(LogitDiff(2, 1, 3), logits, logits.clone())
    recovery = Recovery(LogitDiff(2, 1, 3), logits, logits.flip(-1))
    with pytest.raises(ValueError, match="batch 2 but the stored clean logits have batch 3"):
        recovery(logits[:2])
    with pytest.raises(
        ValueError, match="clean_logits have batch 3 but corrupt_logits have batch 2"
    ):
        Recovery(LogitDiff(2, 1, 3), logits, logits[:2])


# ----------------------------------------------------------------- inside TransformerLens patching
DIMS = random_dims(n_audio_ctx=6, n_text_ctx=12)


@pytest.fixture(scope="module")
def random_model() -> HookedWhisper:
    return HookedWhisper(DIMS, seed=0)


@pytest.fixture(scope="module")
def decoder_setup(random_model):
    model = random_model
    mel = torch.randn(
        1, DIMS.n_mels, 2 * DIMS.n_audio_ctx, generator=torch.Generator().manual_seed(3)
    )
    clean = torch.tensor([[50257, 50362, 11, 12, 13, 14], [50257, 50362, 21, 22, 23, 24]])
    corrupt = clean.clone()
    corrupt[:, 3] = torch.tensor([400, 500])  # one token differs per example
    view = model.decoder_stream(mel)
    with torch.no_grad():
        clean_logits, clean_cache = view.run_with_cache(clean)
        corrupt_logits = view(corrupt)
    return view, clean, corrupt, clean_logits, clean_cache, corrupt_logits


def _metrics(clean_logits, corrupt_logits, per_example):
    diff = LogitDiff(-1, torch.tensor([7, 9]), [8, 10], per_example=per_example)
    return {
        "recovery": Recovery(diff, clean_logits, corrupt_logits),
        "logit_diff": diff,
        "kl": KLDivergence(clean_logits, per_example=per_example),
        "log_prob": LogProb(-1, 7, per_example=per_example),
    }


def test_metric_mapping_in_tl_patching_clean_to_clean(decoder_setup):
    view, clean, _, clean_logits, clean_cache, corrupt_logits = decoder_setup
    with torch.no_grad():
        result = tlp.get_act_patch_resid_pre(
            view, clean, clean_cache, _metrics(clean_logits, corrupt_logits, False)
        )
    assert result.metric_names == ["recovery", "logit_diff", "kl", "log_prob"]
    cells = (DIMS.n_text_layer, clean.shape[1])
    assert result["recovery"].values.shape == cells
    torch.testing.assert_close(result["recovery"].values, torch.ones(cells), atol=1e-5, rtol=0)
    torch.testing.assert_close(result["kl"].values, torch.zeros(cells), atol=1e-6, rtol=0)


def test_metric_mapping_in_tl_patching_corrupt_run(decoder_setup):
    """Patching the clean embedding of the one differing token at layer 0 restores the clean
    run exactly (recovery 1, KL 0); patching any other layer-0 position changes nothing."""
    view, clean, corrupt, clean_logits, clean_cache, corrupt_logits = decoder_setup
    metrics = _metrics(clean_logits, corrupt_logits, True)
    with torch.no_grad():
        result = tlp.get_act_patch_resid_pre(
            view, corrupt, clean_cache, metrics, reduce="none", baseline=True
        )
    recovery = result["recovery"]
    assert recovery.values.shape == (DIMS.n_text_layer, clean.shape[1], clean.shape[0])
    torch.testing.assert_close(recovery.values[0, 3], torch.ones(2), atol=1e-4, rtol=0)
    others = recovery.values[0, [0, 1, 2, 4, 5]]
    torch.testing.assert_close(others, torch.zeros_like(others), atol=1e-4, rtol=0)
    torch.testing.assert_close(result["kl"].values[0, 3], torch.zeros(2), atol=1e-6, rtol=0)
    # The baseline is the corrupt run; TransformerLens's own normalisation agrees with Recovery.
    torch.testing.assert_close(recovery.baseline, torch.zeros(2), atol=1e-5, rtol=0)
    diff = result["logit_diff"]
    torch.testing.assert_close(
        diff.normalized(metrics["recovery"].clean_value), recovery.values, atol=1e-4, rtol=1e-4
    )


# ----------------------------------------------------------------- answers
def test_first_difference():
    assert first_difference([1, 2, 3], [1, 5, 3]) == 1
    assert first_difference(torch.tensor([1, 2, 3]), torch.tensor([1, 2, 3])) is None
    assert first_difference([1, 2], [1, 2, 3]) == 2
    assert first_difference([1, 2, 3], [1, 2]) == 2
    assert first_difference([], []) is None
    assert first_difference([4], [5, 6]) == 0
    with pytest.raises(ValueError, match="1-D"):
        first_difference(torch.tensor([[1, 2]]), [1, 2])


def test_answer_from_transcripts_on_tiny_en(tiny_en, jfk_audio, jfk_mel):
    """Silencing the word "Americans" (1.76-2.26 s) changes tiny.en's transcript there."""
    silenced = jfk_audio.copy()
    silenced[int(1.76 * 16000) : int(2.26 * 16000)] = 0
    corrupt_mel = tiny_en.to_mel(silenced, sample_rate=16000)
    answer = answer_from_transcripts(tiny_en, jfk_mel, corrupt_mel)

    assert isinstance(answer, PairAnswer)
    assert "Americans" in answer.clean_text and "Americans" not in answer.corrupt_text
    assert tiny_en.to_string([answer.correct]) == " Americans"
    assert answer.incorrect != answer.correct
    assert answer.tokens.shape == (1, answer.position + 1)
    assert answer.tokens[0, :2].tolist() == tiny_en.start_tokens()
    assert tiny_en.to_string(answer.tokens[0, 2:]) == " And so my fellow"

    metric = answer.metric()
    with torch.no_grad():
        clean_logits = tiny_en(jfk_mel, answer.tokens)
        corrupt_logits = tiny_en(corrupt_mel, answer.tokens)
    assert clean_logits[0, answer.position].argmax().item() == answer.correct
    clean_value, corrupt_value = metric(clean_logits), metric(corrupt_logits)
    assert clean_value > 0 > corrupt_value
    assert answer.metric(per_example=True)(clean_logits).shape == (1,)


def _fake_decode(monkeypatch, transcripts):
    """whisper.decode returning canned token lists, clean first (no real decoding: fast)."""
    import whisper

    calls = iter(transcripts)

    def decode(model, mel, options):
        assert mel.ndim == 2 and options.without_timestamps and not options.fp16
        tokens = next(calls)
        return SimpleNamespace(tokens=tokens, text=model.to_string(tokens))

    monkeypatch.setattr(whisper, "decode", decode)


def test_answer_when_a_transcript_stops_early(monkeypatch, random_model):
    model = random_model
    mel = torch.zeros(1, DIMS.n_mels, 2 * DIMS.n_audio_ctx)
    eot = model.tokenizer.eot
    _fake_decode(monkeypatch, [[11, 12, 13], [11, 12]])
    answer = answer_from_transcripts(model, mel, mel)
    assert answer.tokens.tolist() == [model.start_tokens() + [11, 12]]
    assert (answer.position, answer.correct, answer.incorrect) == (3, 13, eot)
    _fake_decode(monkeypatch, [[11], [11, 14, 15]])
    answer = answer_from_transcripts(model, mel, mel)
    assert (answer.position, answer.correct, answer.incorrect) == (2, eot, 14)


def test_answer_rejects_identical_transcripts_and_batches(monkeypatch, random_model):
    model = random_model
    mel = torch.zeros(1, DIMS.n_mels, 2 * DIMS.n_audio_ctx)
    _fake_decode(monkeypatch, [[11, 12], [11, 12]])
    with pytest.raises(ValueError, match="transcripts are identical"):
        answer_from_transcripts(model, mel, mel)
    with pytest.raises(ValueError, match="one clip per audio; clean_audio has batch 2"):
        answer_from_transcripts(model, mel.expand(2, -1, -1), mel)
