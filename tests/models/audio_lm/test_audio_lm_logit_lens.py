"""Logit lens and layer information score of HookedAudioLM (tiny random Qwen2-Audio / Voxtral)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from hooked_audio.models.audio_lm import ScoreItem, layer_information_score, logit_lens
from tests.helpers.audio_lm_models import (
    AUDIO_TOKEN,
    VOCAB,
    hooked,
    qwen2_audio_hf,
    qwen2_audio_inputs,
    voxtral_hf,
    voxtral_inputs,
)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These models are tiny: on a busy 2-core machine a second intra-op thread only adds
    contention (measured here: 16 ms vs 0.9 s per forward under load)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def qwen():
    return hooked(qwen2_audio_hf(seed=2, n_layers=3))


@pytest.fixture(scope="module")
def voxtral():
    return hooked(voxtral_hf(seed=4))


def _model_and_inputs(name, qwen, voxtral):
    if name == "qwen2_audio":
        return qwen, qwen2_audio_inputs([80], [7], seed=5)
    return voxtral, voxtral_inputs(n_text=6, seed=5)


@pytest.mark.parametrize("arch", ["qwen2_audio", "voxtral"])
@pytest.mark.parametrize("where", ["audio", "text"])
def test_last_lens_layer_is_the_models_output(arch, where, qwen, voxtral):
    model, inputs = _model_and_inputs(arch, qwen, voxtral)
    targets = [3, 57]
    lens = logit_lens(model, inputs, positions=where, targets=targets, full_vocab=True, top_k=4)
    with torch.no_grad():
        logits = model(**inputs)[0, lens.positions]
    audio = model.audio_positions(inputs["input_ids"])[0]
    assert lens.positions == torch.nonzero(audio if where == "audio" else ~audio).flatten().tolist()
    assert lens.is_audio.tolist() == [where == "audio"] * len(lens.positions)
    expected = logits.log_softmax(-1)
    torch.testing.assert_close(lens.log_probs[-1], expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(lens.top_log_probs[-1], expected.topk(4).values, atol=1e-5, rtol=0)
    assert torch.equal(lens.top_ids[-1, :, 0], logits.argmax(-1))
    torch.testing.assert_close(lens.target_log_probs[-1], expected[:, targets], atol=1e-5, rtol=0)
    ranks = torch.stack([(logits > logits[:, [t]]).sum(-1) for t in targets], -1)
    assert torch.equal(lens.target_ranks[-1], ranks)
    entropy = -(expected.exp() * expected).sum(-1)
    torch.testing.assert_close(lens.entropy[-1], entropy, atol=1e-5, rtol=0)
    # the earlier layers are a different readout (the lens is not trivially the output)
    assert (lens.log_probs[0] - expected).abs().max() > 0.1


def test_last_lens_layer_is_the_output_in_bfloat16():
    model = hooked(qwen2_audio_hf(seed=3)).to(torch.bfloat16)
    inputs = qwen2_audio_inputs([80], [7], seed=12)
    inputs["input_features"] = inputs["input_features"].bfloat16()
    lens = logit_lens(model, inputs, full_vocab=True)
    with torch.no_grad():
        expected = model(**inputs)[0].float().log_softmax(-1)
    torch.testing.assert_close(lens.log_probs[-1], expected, atol=1e-5, rtol=0)


def test_layer_zero_is_the_unembedded_audio_embedding(qwen):
    inputs = qwen2_audio_inputs([80], [7], seed=6)
    with torch.no_grad():
        _, cache = qwen.run_with_cache(**inputs)
        expected = qwen.unembed(qwen.ln_final(cache["hook_audio_embed"]))[0].log_softmax(-1)
    lens = logit_lens(qwen, cache, positions="all", input_ids=inputs["input_ids"], full_vocab=True)
    torch.testing.assert_close(lens.log_probs[0], expected, atol=1e-5, rtol=0)
    audio = qwen.audio_positions(inputs["input_ids"])[0]
    # at audio positions that is the projector's output, not a token embedding
    projected = qwen.unembed(qwen.ln_final(cache["projector.hook_out"][0][None]))[0]
    torch.testing.assert_close(
        lens.log_probs[0][audio], projected.log_softmax(-1), atol=1e-5, rtol=0
    )
    # the cache route and the inputs route (hooks that keep only the chosen positions) agree
    direct = logit_lens(qwen, inputs, positions="all", full_vocab=True)
    torch.testing.assert_close(direct.log_probs, lens.log_probs, atol=1e-5, rtol=0)


def test_chunking_and_layer_subsets_change_nothing(qwen):
    inputs = qwen2_audio_inputs([80], [7], seed=7)
    whole = logit_lens(qwen, inputs, targets=[1, 2, 3], full_vocab=True)
    one_row_at_a_time = logit_lens(
        qwen, inputs, targets=[1, 2, 3], full_vocab=True, max_elements=VOCAB
    )
    for name in ("log_probs", "top_ids", "target_log_probs", "target_ranks", "entropy"):
        torch.testing.assert_close(
            getattr(one_row_at_a_time, name), getattr(whole, name), atol=1e-5, rtol=0
        )
    some = logit_lens(qwen, inputs, targets=[1, 2, 3], layers=[1, 3])
    assert some.labels == ["1_pre", "final_post"]
    assert whole.labels == ["0_pre", "1_pre", "2_pre", "final_post"]
    torch.testing.assert_close(
        some.target_log_probs, whole.target_log_probs[[1, 3]], atol=1e-5, rtol=0
    )


def test_full_stack_agrees_with_transformer_lens_accumulated_resid(qwen):
    """Through the lm_stream view, TransformerLens's `accumulated_resid(apply_ln=True)` over the
    whole stack recomputes our RMSNorm (with its weight) per layer: the same lens."""
    inputs = qwen2_audio_inputs([80], [7], seed=8)
    view = qwen.lm_stream(
        input_features=inputs["input_features"],
        feature_attention_mask=inputs["feature_attention_mask"],
    )
    with torch.no_grad():
        _, cache = view.run_with_cache(inputs["input_ids"])
        stack = cache.accumulated_resid(apply_ln=True)[:, 0]
        tl_log_probs = (stack @ qwen.W_U + qwen.b_U).log_softmax(-1)
        # a partial stack takes the cached-scale path instead: not a logit lens
        partial = cache.accumulated_resid(layer=1, apply_ln=True)[:, 0]
    lens = logit_lens(qwen, cache, input_ids=inputs["input_ids"], full_vocab=True)
    torch.testing.assert_close(lens.log_probs, tl_log_probs, atol=1e-5, rtol=0)
    assert (partial[0] - qwen.ln_final(cache["blocks.0.hook_resid_pre"])[0]).abs().max() > 1e-2


def test_padded_batch_row_equals_the_row_alone(qwen):
    inputs = qwen2_audio_inputs([80, 50], [7, 4], seed=9)
    lens = logit_lens(qwen, inputs, positions="all", row=1, targets=[5])
    keep = inputs["attention_mask"][1].bool()
    assert lens.positions == torch.nonzero(keep).flatten().tolist()  # padding dropped
    alone = {
        "input_ids": inputs["input_ids"][1:2, keep],
        "input_features": inputs["input_features"][1:2],
        "feature_attention_mask": inputs["feature_attention_mask"][1:2],
    }
    single = logit_lens(qwen, alone, positions="all", targets=[5])
    torch.testing.assert_close(lens.target_log_probs, single.target_log_probs, atol=1e-4, rtol=0)
    assert torch.equal(lens.is_audio, single.is_audio)
    with pytest.raises(ValueError, match="pick one with row="):
        logit_lens(qwen, inputs)


@pytest.mark.parametrize("arch,step", [("qwen2_audio", 0.04), ("voxtral", 0.08)])
def test_audio_positions_carry_their_time_in_the_clip(arch, step, qwen, voxtral):
    model, inputs = _model_and_inputs(arch, qwen, voxtral)
    lens = logit_lens(model, inputs, positions="all", targets=[9])
    audio_idx = [i for i, a in enumerate(lens.is_audio.tolist()) if a]
    spans = torch.tensor([lens.seconds[i] for i in audio_idx])
    k = torch.arange(len(audio_idx))
    torch.testing.assert_close(spans, torch.stack([k * step, (k + 1) * step], -1).float())
    assert all(lens.seconds[i] is None for i in range(len(lens.positions)) if i not in audio_idx)
    labels = lens.position_labels()
    assert labels[audio_idx[1]] == f"{step:.2f}s"
    ax = lens.plot()
    ticks = {t.get_text(): t.get_color() for t in ax.get_xticklabels()}
    assert ticks["0.00s"] == "tab:orange"
    frame = lens.to_dataframe()
    assert len(frame) == len(lens.layers) * len(lens.positions)
    last = frame[(frame.layer == model.cfg.n_layers)]
    torch.testing.assert_close(
        torch.tensor(last["prob_9"].values, dtype=torch.float32),
        lens.target_probs(9)[-1],
        atol=1e-5,
        rtol=0,
    )
    assert last.loc[last.is_audio, "start_s"].tolist() == pytest.approx(
        [k * step for k in range(len(audio_idx))]
    )


def test_lens_errors(qwen):
    inputs = qwen2_audio_inputs([80], [7], seed=10)
    n = inputs["input_ids"].shape[1]
    with pytest.raises(ValueError, match="outside the sequence"):
        logit_lens(qwen, inputs, positions=[0, n])
    with pytest.raises(ValueError, match="outside the sequence"):
        logit_lens(qwen, inputs, positions=-n - 1)
    with pytest.raises(ValueError, match="Unknown target token"):
        logit_lens(qwen, inputs, targets=[VOCAB])
    with pytest.raises(ValueError, match="Unknown target token"):
        logit_lens(qwen, inputs, targets=[-1])
    with pytest.raises(ValueError, match="pass tokenizer="):
        logit_lens(qwen, inputs, targets=" happy")
    with pytest.raises(ValueError, match="needs the prompt's input_ids"):
        with torch.no_grad():
            _, cache = qwen.run_with_cache(**inputs)
        logit_lens(qwen, cache, positions="audio")
    with pytest.raises(ValueError, match="Lens layers"):
        logit_lens(qwen, inputs, layers=[qwen.cfg.n_layers + 1])


class WordTokenizer:
    """Words to ids 10, 11, ...; an unknown word is two tokens (ids 90, 91)."""

    words = [" happy", " sad", " angry", " calm"]

    def encode(self, text, add_special_tokens=False):
        return [10 + self.words.index(text)] if text in self.words else [90, 91]

    def decode(self, ids):
        return "".join(self.words[i - 10] if 10 <= i < 14 else f"<{i}>" for i in ids)


def test_string_targets_and_candidates_through_a_tokenizer(qwen):
    inputs = qwen2_audio_inputs([80], [7], seed=11)
    tok = WordTokenizer()
    by_id = logit_lens(qwen, inputs, positions=[-1], targets=[11, 90])
    by_word = logit_lens(qwen, inputs, positions=[-1], targets=[" sad", [90, 91]], tokenizer=tok)
    assert by_word.target_ids == [11, 90]
    torch.testing.assert_close(by_word.target_log_probs, by_id.target_log_probs, atol=1e-5, rtol=0)
    last_token = int(inputs["input_ids"][0, -1])
    assert by_word.to_dataframe().input_token.iloc[0] == tok.decode([last_token])
    with pytest.raises(ValueError, match="is 2 tokens"):
        logit_lens(qwen, inputs, targets=" disgusted", tokenizer=tok)
    # a candidate of several tokens is read through its first, as in the AudioLens code
    words = layer_information_score(
        qwen, [(inputs, [" sad", " disgusted"], " disgusted")], tokenizer=tok
    )
    ids = layer_information_score(qwen, [(inputs, [11, 90], 90)])
    assert torch.equal(words.correct, ids.correct)
    torch.testing.assert_close(words.answer_prob, ids.answer_prob, atol=1e-5, rtol=0)


# ----------------------------------------------------------------------------- score
CANDIDATES = [10, 11, 12, 13]


def _reads_candidate_directions(seed: int = 2):
    """A tiny model whose unembedding reads candidate c along basis direction c (and nothing
    else), so a large write of direction c into the residual stream names candidate c."""
    model = hooked(qwen2_audio_hf(seed=seed, n_layers=3))
    with torch.no_grad():
        for i, token in enumerate(CANDIDATES):
            model.unembed.W_U[:, token] = 0.0
            model.unembed.W_U[i, token] = 5.0
        model.unembed.b_U.zero_()
    return model


def test_score_jumps_from_chance_to_one_where_the_answer_is_written():
    """Each of 3 prompts is asked with each of the 4 candidates as the answer, and the answer's
    direction is written (x100) into `blocks.2.hook_resid_pre` at the read position. Before
    lens layer 2 the residual stream does not depend on the answer, so the prediction is the
    same for the 4 items of a prompt and exactly one of them is right: accuracy 1/4 exactly.
    From layer 2 the written direction dominates: accuracy 1."""
    model = _reads_candidate_directions()
    write_layer = 2
    items = []
    for seed in range(3):
        inputs = qwen2_audio_inputs([80], [7], seed=20 + seed)
        for i, answer in enumerate(CANDIDATES):

            def write(resid, hook, i=i):
                resid[:, -1, i] += 100.0
                return resid

            name = f"blocks.{write_layer}.hook_resid_pre"
            with torch.no_grad(), model.hooks(fwd_hooks=[(name, write)]):
                _, cache = model.run_with_cache(**inputs)
            items.append(ScoreItem(cache, CANDIDATES, answer))
    score = layer_information_score(model, items)
    assert score.layers == [0, 1, 2, 3] and score.chance == pytest.approx(0.25)
    assert score.accuracy.tolist() == pytest.approx([0.25, 0.25, 1.0, 1.0])
    # the same prompt gives the same prediction at every layer before the write
    before = score.prediction[:, :write_layer].reshape(3, 4, write_layer)
    assert (before == before[:, :1]).all()
    for i, crit in enumerate(score.critical_layers):
        correct_before = score.correct[i, :write_layer]
        expected = (
            write_layer
            if not correct_before[-1]
            else min(l for l in range(write_layer + 1) if correct_before[l:].all())
        )
        assert crit == expected
    assert sum(c == write_layer for c in score.critical_layers) >= 9  # 3 of 4 per prompt
    assert (score.candidate_prob[:, write_layer:] > 0.99).all()
    # over the whole vocabulary the written answer is also the argmax from layer 2 on
    vocab = layer_information_score(model, items, over="vocab")
    assert vocab.chance is None and vocab.accuracy[write_layer:].tolist() == [1.0, 1.0]
    frame = score.to_dataframe()
    assert frame.accuracy.tolist() == pytest.approx(score.accuracy.tolist())
    assert frame.resolved_fraction.iloc[-1] == 1.0 and frame.n_critical.sum() == len(items)
    assert len(score.item_dataframe()) == len(items) * 4
    ax = score.plot()
    assert ax.get_ylim()[1] == pytest.approx(1.02) and len(ax.lines) >= 3


def test_score_at_the_last_layer_is_the_models_accuracy(qwen):
    items, expected_correct = [], []
    for seed in range(4):
        inputs = qwen2_audio_inputs([80], [7], seed=30 + seed)
        with torch.no_grad():
            last = qwen(**inputs)[0, -1]
        candidates = [[20 + seed], [40], [60 + seed, 3]]  # token sequences: the first id is read
        answer = candidates[seed % 3]
        first = torch.tensor([c[0] for c in candidates])
        expected_correct.append(bool(last[first].argmax() == seed % 3))
        items.append((inputs, candidates, answer))
    score = layer_information_score(qwen, items)
    assert score.correct[:, -1].tolist() == expected_correct
    assert score.final_accuracy == pytest.approx(sum(expected_correct) / 4)
    assert score.chance == pytest.approx(1 / 3)
    with torch.no_grad():
        probs = qwen(**items[0][0])[0, -1].softmax(-1)
    torch.testing.assert_close(score.answer_prob[0, -1], probs[20], atol=1e-5, rtol=0)
    # the critical layer is None exactly where the model's own answer is wrong
    assert [c is None for c in score.critical_layers] == [not c for c in expected_correct]
    # "last" is the last non-padding position: right padding changes nothing
    inputs, candidates, answer = items[0]
    pad = torch.zeros(1, 3, dtype=torch.long)
    padded = {
        **inputs,
        "input_ids": torch.cat([inputs["input_ids"], pad], 1),
        "attention_mask": torch.cat([torch.ones_like(inputs["input_ids"]), pad], 1),
    }
    again = layer_information_score(qwen, [(padded, candidates, answer)])
    torch.testing.assert_close(again.answer_prob[0], score.answer_prob[0], atol=1e-5, rtol=0)


def test_score_errors(qwen):
    inputs = qwen2_audio_inputs([80], [7], seed=40)
    with pytest.raises(ValueError, match="empty"):
        layer_information_score(qwen, [])
    with pytest.raises(ValueError, match="not among its candidates"):
        layer_information_score(qwen, [(inputs, [1, 2], 3)])
    with pytest.raises(ValueError, match="Unknown candidate of item 0 token"):
        layer_information_score(qwen, [(inputs, [1, VOCAB], 1)])
    with pytest.raises(ValueError, match="share a first token"):
        layer_information_score(qwen, [(inputs, [[1, 2], [1, 3]], [1, 2])])
    with pytest.raises(ValueError, match="outside the sequence"):
        layer_information_score(qwen, [(inputs, [1, 2], 1)], position=inputs["input_ids"].shape[1])
    two = qwen2_audio_inputs([80, 50], [7, 4], seed=41)
    with pytest.raises(ValueError, match="one prompt each"):
        layer_information_score(qwen, [(two, [1, 2], 1)])
    assert AUDIO_TOKEN not in CANDIDATES
