"""The ablation study on the real tiny.en: its rows against transcribing directly (the baseline
against the family's own greedy transcripts, a site against `transcribe_ablated`), resuming,
the figure against the summary, and the errors for bad input."""

import json

import numpy as np
import pytest
import torch

from hooked_audio.ablation_study import (
    AblationSpec,
    TranscriptClip,
    folder_set,
    non_speech_set,
    run_ablation_study,
    transcribe_ablated,
)
from hooked_audio.ablation_study.run import ablation_sites
from hooked_audio.models.loading import model_family
from tests.helpers.figure_text import cut_off_text

SPEC = AblationSpec(layers=(3,), batch_size=4)


@pytest.fixture(scope="module")
def clips(jfk_audio):
    from hooked_audio.audio import Audio

    speech = TranscriptClip(
        "jfk",
        Audio(np.asarray(jfk_audio, dtype=np.float32), 16000),
        "And so my fellow Americans, ask not what your country can do for you, ask what you "
        "can do for your country.",
    )
    return [speech, *non_speech_set(seconds=4.0)[:3]]


@pytest.fixture(scope="module")
def study(tiny_en, clips, tmp_path_factory):
    out = tmp_path_factory.mktemp("ablation")
    lines = []
    result = run_ablation_study(tiny_en, clips, SPEC, out_dir=out, progress=False, out=lines.append)
    return result, out, lines


def test_rows_match_direct_transcription_slow(tiny_en, clips, study):
    result, _, lines = study
    rows = result.rows
    assert "4 clips x (6 sites + the baseline" in lines[0]
    baseline = rows[rows.unit == "baseline"].set_index("clip")
    direct = model_family(tiny_en).transcribe([clip.audio for clip in clips])
    assert [baseline.loc[c.name, "transcript"] for c in clips] == direct
    site = ablation_sites(model_family(tiny_en), SPEC)[4]
    ablated = transcribe_ablated(tiny_en, clips, [site]).set_index("clip")
    unit = rows[rows.unit == site.key].set_index("clip")
    assert list(unit["transcript"]) == list(ablated.loc[unit.index, "transcript"])
    assert baseline.loc["jfk", "wer"] < 0.1  # tiny.en hears JFK


def test_summary_figure_and_resume_slow(tiny_en, clips, study):
    result, out, _ = study
    summary = result.summary()
    assert len(summary) == 6 and list(summary["delta"]) == sorted(summary["delta"])
    per_unit = result.rows.groupby("unit")["hallucination"].mean()
    for unit, row in summary.iterrows():
        assert row["delta"] == pytest.approx(per_unit[unit] - per_unit["baseline"])
    fig = result.plot()
    image = fig.axes[0].images[0].get_array()
    for _, row in summary.iterrows():  # layer 3 is the grid's only row; column = head
        assert image[0, int(row["head"])] == pytest.approx(row["delta"])
    assert fig.axes[0].get_title() == "decoder.self_heads"
    fig.canvas.draw()
    assert cut_off_text(fig) == []
    assert (out / "figures" / "ablation.png").is_file()
    assert (out / "summary.csv").is_file()
    lines = []
    again = run_ablation_study(tiny_en, clips, SPEC, out_dir=out, progress=False, out=lines.append)
    assert lines == [] and again.rows.equals(result.rows)  # nothing left to run
    assert json.loads((out / "spec.json").read_text())["layers"] == [3]


def test_bad_input_gets_clear_errors(tiny_en, clips, tmp_path):
    with pytest.raises(ValueError, match="clip set is empty"):
        run_ablation_study(tiny_en, [], SPEC, progress=False)
    unlabelled = [TranscriptClip("x", clips[1].audio, None)]
    with pytest.raises(ValueError, match=r"'wer'.*have none.*<name>.txt"):
        run_ablation_study(tiny_en, unlabelled, AblationSpec(metric="wer"), progress=False)
    with pytest.raises(ValueError, match="reference clips"):
        run_ablation_study(tiny_en, clips, AblationSpec(ablation="mean"), progress=False)
    with pytest.raises(ValueError, match="outside 0..3"):
        run_ablation_study(tiny_en, clips, AblationSpec(layers=(4,)), progress=False)
    with pytest.raises(ValueError, match="Unknown metric"):
        AblationSpec(metric="bleu")
    with pytest.raises(ValueError, match="no audio files"):
        folder_set(tmp_path)


def test_folder_clips_read_their_references(tmp_path, clips):
    import soundfile

    soundfile.write(tmp_path / "a.wav", clips[1].audio, 16000)
    soundfile.write(tmp_path / "b.flac", clips[2].audio, 16000)
    (tmp_path / "a.txt").write_text("hello there\n")
    read = folder_set(tmp_path)
    assert [(c.name, c.reference) for c in read] == [("a", "hello there"), ("b", None)]


def test_decoder_pools_do_not_depend_on_batching(tiny_en, clips):
    """Batched greedy decoding runs every row until the longest transcript ends; the positions
    a row runs after its own end are in no transcript, so one batch of clips gives the pools
    that decoding each clip alone (where no such position exists) gives."""
    from hooked_audio.interventions import collect_reference_pools

    family = model_family(tiny_en)
    sites = family.ablation_sites("decoder.self_heads", layers=[1])[:2]
    sites += family.ablation_sites("decoder.mlps", layers=[0])
    audios = [clips[0].audio, clips[1].audio]  # a sentence and a clip of noise
    batched = collect_reference_pools(sites, family.transcriber(audios, batch_size=2))
    alone = [collect_reference_pools(sites, family.transcriber([a], batch_size=1)) for a in audios]
    for site in sites:
        counts = [pools[site.key].count for pools in alone]
        assert counts[0] != counts[1]  # transcripts of different lengths: batching pads one
        assert batched[site.key].count == sum(counts)
        mean = sum(pools[site.key].mean * n for pools, n in zip(alone, counts)) / sum(counts)
        assert torch.allclose(batched[site.key].mean, mean, atol=1e-4)
