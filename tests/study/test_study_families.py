"""Studies beyond Whisper: the family protocol, the CTC metric against a brute-force sum over
alignments, a wav2vec2 study from the command line (report, figures, rows equal to the engine's
own sweep), and the refusals a family that cannot serve a command gets."""

from __future__ import annotations

import itertools
import json

import pytest
import torch

from hooked_audio.cli import main
from hooked_audio.metrics import CTCLogLikelihoodDiff
from hooked_audio.models.audio_encoder import HookedAudioEncoder
from hooked_audio.models.audio_encoder.ctc_text import CTCText
from hooked_audio.models.family import ModelFamily
from hooked_audio.models.loading import load_model, model_family
from hooked_audio.pairs import bundled_pairs
from hooked_audio.study import StudySpec, run_study
from tests.helpers.ctc_models import ctc_checkpoint, ctc_vocabulary
from tests.helpers.study_checks import assert_rows_are_the_engines


@pytest.fixture(scope="module")
def ctc_folder(tmp_path_factory):
    return ctc_checkpoint(tmp_path_factory.mktemp("wav2vec2-ctc"))


@pytest.fixture(scope="module")
def ctc_model(ctc_folder):
    return load_model(ctc_folder)


def brute_force_ctc_log_likelihood(log_probs: torch.Tensor, labels: list[int], blank: int):
    """log of the summed probability of every frame path that collapses (repeats merged,
    blanks dropped) to `labels`: the definition of CTC, enumerated."""
    n_pos, n_classes = log_probs.shape
    total = torch.tensor(float("-inf"), dtype=torch.float64)
    for path in itertools.product(range(n_classes), repeat=n_pos):
        merged = [c for i, c in enumerate(path) if i == 0 or c != path[i - 1]]
        if [c for c in merged if c != blank] == labels:
            score = sum(log_probs[t, c].double() for t, c in enumerate(path))
            total = torch.logaddexp(total, score)
    return total


def test_ctc_metric_equals_the_sum_over_alignments():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 4)
    clean, corrupt = [1, 2, 2], [3, 1]
    metric = CTCLogLikelihoodDiff(
        torch.tensor(clean), torch.tensor(corrupt), blank=0, per_example=True
    )
    values = metric(logits)
    for row in range(2):
        log_probs = logits[row].log_softmax(-1)
        expected = brute_force_ctc_log_likelihood(log_probs, clean, 0) - (
            brute_force_ctc_log_likelihood(log_probs, corrupt, 0)
        )
        assert values[row].item() == pytest.approx(expected.item(), abs=1e-4)
    assert metric(logits[:1]).item() == pytest.approx(values[0].item())  # the mean of one row


def test_ctc_metric_refuses_what_cannot_be_scored():
    with pytest.raises(ValueError, match="blank"):
        CTCLogLikelihoodDiff(torch.tensor([0, 1]), torch.tensor([2]), blank=0)
    with pytest.raises(ValueError, match="empty"):
        CTCLogLikelihoodDiff(torch.tensor([], dtype=torch.long), torch.tensor([2]), blank=0)
    metric = CTCLogLikelihoodDiff(torch.tensor([1, 1, 1]), torch.tensor([2]), blank=0)
    with pytest.raises(ValueError, match="needs at least 5 positions"):
        metric(torch.randn(1, 4, 3))  # 1 _ 1 _ 1: five positions, not four
    with pytest.raises(ValueError, match="outside the logits"):
        CTCLogLikelihoodDiff(torch.tensor([7]), torch.tensor([2]), blank=0)(torch.randn(1, 4, 3))


def test_ctc_text_puts_a_transcript_in_the_vocabulary_case_and_names_missing_characters(
    tmp_path,
):
    text = CTCText(ctc_vocabulary(tmp_path))
    labels = text.labels("We will meet in Paris.")
    assert text.tokenizer.decode(labels.tolist(), group_tokens=False) == "WE WILL MEET IN PARIS"
    with pytest.raises(ValueError, match=r"no '3'.*'4'"):
        text.labels("Meet at 3 or 4")
    # greedy decoding: repeats merged, blanks (<pad>) and special tokens (<s>) dropped
    vocab = text.tokenizer.get_vocab()
    path = ["<pad>", "W", "W", "E", "<s>", "|", "<pad>", "G", "O", "O", "<pad>", "O"]
    logits = torch.nn.functional.one_hot(torch.tensor([vocab[c] for c in path]), len(vocab))
    assert text.transcribe(logits.float()) == "WE GOO"


def test_families_implement_the_protocol(tiny_en, ctc_model):
    for model in (tiny_en, ctc_model):
        family = model_family(model)
        assert isinstance(family, ModelFamily)
        assert model_family(family) is family
    with pytest.raises(TypeError, match=r"HookedAudioEncoder \(CTC\) and HookedAudioLM"):
        model_family(torch.nn.Linear(2, 2))


def test_an_encoder_without_its_characters_or_head_is_refused(tmp_path):
    bare = load_model(ctc_checkpoint(tmp_path / "no-vocab", with_vocabulary=False))
    assert bare.tokenizer is None
    with pytest.raises(ValueError, match=r"has no characters for its CTC head \(vocab.json\)"):
        model_family(bare)
    from tests.helpers.audio_encoder_models import random_hf

    headless = HookedAudioEncoder.from_hf(random_hf(ctc=False))
    with pytest.raises(ValueError, match="has no CTC head"):
        model_family(headless)


def test_a_wav2vec2_study_measures_what_the_engine_measures(ctc_model, tmp_path):
    pairs = [p for p in bundled_pairs() if p.id in ("paris-berlin", "car-bike")]
    spec = StudySpec(layers=(0, 1), min_gap=0.0, require_heard=False)
    result = run_study(ctc_model, pairs, spec, out_dir=tmp_path, progress=False, out=lambda _: None)
    assert sorted(result.pairs) == ["car-bike", "paris-berlin"]
    pair = pairs[0]
    contrast = model_family(ctc_model).pair_contrast(pair)
    assert (contrast.clean_word, contrast.replacement) == ("Paris", "Berlin")
    for direction in ("denoise", "noise"):
        # rows equal the engine's own sweep; word cells start at the word onsets (20 ms grid)
        assert_rows_are_the_engines(ctc_model, result, pair, [0, 1], direction)


def test_hooked_audio_study_writes_a_report_for_a_wav2vec2_model(ctc_folder, tmp_path, capsys):
    out = tmp_path / "study"
    code = main(
        [
            "study",
            "bundled",
            "--model",
            str(ctc_folder),
            "--out",
            str(out),
            "--min-gap",
            "0",
            "--keep-misheard",
            "--acts",
            "resid_pre",
            "encoder_heads",
            "--layers",
            "1",
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sorted(summary["pairs"]) == ["car-bike", "football-tennis", "paris-berlin"]
    report = (out / "report.html").read_text()
    assert "greedy CTC" in report  # every transcript says how it was decoded
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {row["act"] for row in rows} == {"resid_pre", "encoder_heads"}
    assert {row["head"] for row in rows if row["act"] == "encoder_heads"} == {0, 1, 2, 3}
    assert summary["figures"], "figures are written for a wav2vec2 study too"


def test_a_family_refuses_what_it_cannot_serve(ctc_folder, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "study",
                "bundled",
                "--model",
                str(ctc_folder),
                "--out",
                str(tmp_path / "s"),
                "--acts",
                "cross_heads",
            ]
        )
    assert exit_info.value.code == 2
    assert "has no cross_heads" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
    clip = tmp_path / "clip.wav"
    import soundfile

    soundfile.write(clip, bundled_pairs()[0].clean_audio, 16000)
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "patch",
                str(clip),
                str(clip),
                "--model",
                str(ctc_folder),
                "--out",
                str(tmp_path / "p"),
            ]
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "runs on Whisper models" in err and "'wav2vec2'" in err
