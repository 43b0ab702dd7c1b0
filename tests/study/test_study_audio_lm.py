"""Studies of an audio LM: the transcription prompt's contrast, the audio tower as the study's
stream, the grounding coefficient per language-model layer in the rows, the files and the
report, and the refusals (no processor, a processor whose positions are not 20 ms)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hooked_audio.analysis import grounding_coefficient
from hooked_audio.audio import AudioInputError
from hooked_audio.cli import main
from hooked_audio.models.family import GroundedFamily, ModelFamily
from hooked_audio.models.loading import load_model, model_family
from hooked_audio.pairs import bundled_pairs
from hooked_audio.study import StudySpec, run_study
from tests.helpers.audio_lm_models import audio_lm_checkpoint, hooked, qwen2_audio_hf
from tests.helpers.audio_lm_processor import tiny_processor
from tests.helpers.study_checks import assert_rows_are_the_engines

PAIR_IDS = ("paris-berlin", "car-bike")


@pytest.fixture(scope="module")
def lm_folder(tmp_path_factory):
    return audio_lm_checkpoint(tmp_path_factory.mktemp("qwen2-audio"))


@pytest.fixture(scope="module")
def lm(lm_folder):
    return load_model(lm_folder)


@pytest.fixture(scope="module")
def pairs():
    by_id = {p.id: p for p in bundled_pairs()}
    return [by_id[pid] for pid in PAIR_IDS]


@pytest.fixture(scope="module")
def study(lm, pairs, tmp_path_factory):
    spec = StudySpec(layers=(0, 1), min_gap=0.0, require_heard=False)
    out = tmp_path_factory.mktemp("lm-study")
    return run_study(lm, pairs, spec, out_dir=out, progress=False, out=lambda _: None), out


def test_the_contrast_is_the_first_token_where_the_transcripts_part(lm, pairs):
    family = model_family(lm)
    assert isinstance(family, ModelFamily) and isinstance(family, GroundedFamily)
    contrast = family.pair_contrast(pairs[0])  # "Paris" -> "Berlin"
    prompt = lm.to_string(contrast.input_ids[0])
    # the chat asks for a transcript, and the answer is teacher-forced up to the change
    assert "Transcribe the audio." in prompt
    assert prompt.endswith("<|im_start|>assistant\nWe will meet in ")
    assert contrast.position == contrast.input_ids.shape[1] - 1
    # the tiny tokenizer spells by character: the transcripts part at "P" vs "B"
    assert (lm.to_string([contrast.correct]), lm.to_string([contrast.incorrect])) == ("P", "B")
    # the audio stream runs the model on that prompt: the same logits as a plain forward
    frames = family.audio_inputs(pairs[0].clean_audio)
    with torch.no_grad():
        through_stream = contrast.metric()(family.audio_stream(contrast)(frames))
        direct = contrast.metric()(lm(**contrast.inputs(frames)))
    assert torch.allclose(through_stream, direct, atol=1e-5)


def test_transcripts_of_a_batch_are_those_of_each_clip(lm, pairs):
    family = model_family(lm)
    clips = [pairs[0].clean_audio, pairs[1].corrupt_audio]
    together = family.transcribe(clips)
    assert together == [family.transcribe([clip])[0] for clip in clips]
    assert all(text for text in together)  # a random model still says something


def test_an_audio_lm_study_measures_what_the_engines_measure(lm, pairs, study):
    result, out = study
    family = model_family(lm)
    assert sorted(result.pairs) == sorted(PAIR_IDS)
    pair = pairs[1]
    contrast = family.pair_contrast(pair)
    clean, corrupt = family.audio_inputs(pair.clean_audio), family.audio_inputs(pair.corrupt_audio)
    grounding = {(row["pair"], row["direction"], row["layer"]): row for row in result.grounding}
    for direction in ("denoise", "noise"):
        assert_rows_are_the_engines(lm, result, pair, [0, 1], direction)
        rows = result.rows.query("pair == @pair.id and direction == @direction")
        # the grounding rows are the grounding coefficient of the pair's own inputs
        expected = grounding_coefficient(
            lm,
            contrast.inputs(clean),
            contrast.inputs(corrupt),
            contrast.metric(),
            direction=direction,
            progress=False,
        )
        assert expected.sweep.clean_value == pytest.approx(rows["clean_value"].iloc[0], abs=1e-4)
        for layer in range(lm.config.n_layers):
            row = grounding[(pair.id, direction, layer)]
            assert row["audio_effect"] == pytest.approx(float(expected.audio_effect[layer]))
            assert row["text_effect"] == pytest.approx(float(expected.text_effect[layer]))
            # invariants: every position patched is the other run; at layer 0 the text
            # positions hold the same tokens in both runs, so patching them changes nothing
            assert row["both_effect"] == pytest.approx(1.0, abs=1e-4)
        assert grounding[(pair.id, direction, 0)]["text_effect"] == pytest.approx(0.0, abs=1e-5)
    saved = json.loads((out / "grounding.json").read_text())
    assert len(saved) == len(PAIR_IDS) * 2 * lm.config.n_layers
    summary = result.grounding_summary()
    assert set(summary["layer"]) == set(range(lm.config.n_layers))
    denoise_0 = summary[(summary["direction"] == "denoise") & (summary["layer"] == 0)]
    assert denoise_0["grounding"].item() == pytest.approx(1.0, abs=1e-4)  # text effect 0


def test_hooked_audio_study_writes_a_report_for_an_audio_lm(lm_folder, tmp_path, capsys):
    out = tmp_path / "study"
    args = ["study", "bundled", "--model", str(lm_folder), "--out", str(out)]
    args += ["--min-gap", "0", "--keep-misheard", "--acts", "resid_pre", "--layers", "1"]
    assert main([*args, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sorted(summary["pairs"]) == ["car-bike", "football-tennis", "paris-berlin"]
    report = (out / "report.html").read_text()
    assert "greedy generation after the transcription prompt" in report
    assert "Grounding: is the answer carried by the audio or the text positions?" in report
    assert (out / "grounding.json").exists() and summary["figures"]


def test_an_audio_lm_without_a_processor_or_with_other_positions_is_refused(lm, pairs):
    bare = hooked(qwen2_audio_hf())
    with pytest.raises(ValueError, match="has no processor"):
        model_family(bare)
    bare.set_processor(tiny_processor())  # 200-sample hops: 25 ms positions, not 20 ms
    with pytest.raises(ValueError, match=r"hops 200 samples at 16000 Hz \(12.5 ms\)"):
        model_family(bare)
    long_clip = np.concatenate([pairs[0].clean_audio, pairs[0].clean_audio])
    with pytest.raises(AudioInputError, match="at most one 3 s window"):
        model_family(lm).audio_inputs(long_clip)
