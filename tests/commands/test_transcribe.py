"""`hooked-audio transcribe`: openai-whisper's transcript on the real tiny.en, changed where the
encoder frames of one word are zeroed or patched, unchanged where nothing is; bad input
refused in one line, before the model loads wherever the model is not needed."""

from __future__ import annotations

import json
from importlib.resources import files

import numpy as np
import pytest
import soundfile

from hooked_audio.models.whisper.frame_interventions import (
    check_frame_hook,
    frame_axis_hooks,
    parse_frame_span,
)
from hooked_audio.pairs import bundled_pairs
from hooked_audio.word_times.transcript_diff import changed_words
from tests.commands.conftest import one_line_error

JFK = files("hooked_audio") / "data" / "jfk.flac"
PAIRS = files("hooked_audio") / "data" / "pairs"
RESID_0 = "encoder.blocks.0.hook_resid_pre"


def transcribe_json(cli, *argv) -> dict:
    run = cli("transcribe", *argv, "--json")
    assert run.code == 0, run.err
    return json.loads(run.out)


def test_ablating_americans_changes_that_word_only(cli, model_loads):
    report = transcribe_json(cli, JFK, "--ablate", f"{RESID_0}@1.76-2.26")
    plain, ablated = report["transcript"], report["intervened_transcript"]
    assert "And so my fellow Americans ask not what your country" in plain
    assert "Americans" not in ablated
    assert "And so my fellow" in ablated and "not what your country can do for you" in ablated
    # 1.76-2.26 s is positions 88-112 (20 ms each); the first change is the zeroed word
    assert report["interventions"][0]["positions"] == [88, 112]
    assert report["changes"][0]["before"].startswith("Americans")
    assert all(change["index"] <= 5 for change in report["changes"])  # nothing after "ask"


def test_patching_a_clip_from_itself_changes_nothing(cli, model_loads):
    report = transcribe_json(
        cli,
        JFK,
        "--patch",
        "encoder.blocks.2.hook_resid_post@0-11",
        "--patch",
        f"{RESID_0}@1.76-2.26",
        "--source",
        JFK,
    )
    assert report["intervened_transcript"] == report["transcript"]
    assert report["changes"] == []


def test_patching_the_changed_word_from_the_corrupt_clip_hears_the_replacement(cli, model_loads):
    pair = bundled_pairs()[0]
    clean_word, replacement = pair.differing_words
    start, end = pair.spans_s[0]
    clean, corrupt = PAIRS / f"{pair.id}_clean.flac", PAIRS / f"{pair.id}_corrupt.flac"
    report = transcribe_json(
        cli, clean, "--patch", f"{RESID_0}@{start:.3f}-{end:.3f}", "--source", corrupt
    )
    assert report["transcript"].strip() == pair.clean_text
    assert report["changes"] == [{"index": 4, "before": clean_word, "after": replacement}]


def test_printed_report_names_the_changed_words(cli, model_loads):
    run = cli("transcribe", JFK, "--ablate", f"{RESID_0}@1.76-2.26")
    lines = run.out.splitlines()
    assert run.code == 0 and lines[1].startswith(
        "Transcript (whisper.transcribe at temperature 0, without the previous window's text): "
        "And so my fellow Americans"
    )
    assert lines[2] == f"Zeroing: {RESID_0} over 1.76-2.26 s (positions 88-112)"
    assert lines[3].startswith("With the intervention:")
    assert lines[4].startswith("Changed words: 'Americans")


def test_chunk_transcribes_audio_over_one_window(cli, model_loads, tmp_path, jfk_audio):
    long_clip = tmp_path / "long.wav"
    soundfile.write(long_clip, np.concatenate([jfk_audio] * 3), 16000)  # 33 s
    refused = one_line_error(cli("transcribe", long_clip), "transcribe")
    assert "33.0 s long" in refused and "--chunk" in refused
    report = transcribe_json(cli, long_clip, "--chunk")
    assert report["transcript"].count("fellow Americans") == 3


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--ablate", "encoder.blocks.0.hook_resid_pre"], "is not a span: write HOOK@START-END"),
        (["--ablate", f"{RESID_0}@2.26-1.76"], "(START < END), got 2.26-1.76"),
        (["--ablate", f"{RESID_0}@1-x"], "is not a span"),
        (["--ablate", f"{RESID_0}@10-12"], "ends at 12 s, after the end of"),
        (["--patch", f"{RESID_0}@1-2"], "give it with --source"),
        (["--source", str(JFK)], "add --patch HOOK@START-END"),
        (
            ["--patch", f"{RESID_0}@1-3", "--source", str(PAIRS / "car-bike_clean.flac")],
            "(in --source) encoder.blocks.0.hook_resid_pre@1-3: ends at 3 s",
        ),
    ],
)
def test_bad_input_is_refused_before_the_model_loads(cli, no_model, argv, message):
    assert message in one_line_error(cli("transcribe", JFK, *argv), "transcribe")


def test_interventions_on_long_audio_are_refused(cli, no_model, tmp_path, jfk_audio):
    long_clip = tmp_path / "long.wav"
    soundfile.write(long_clip, np.concatenate([jfk_audio] * 3), 16000)
    run = cli("transcribe", long_clip, "--chunk", "--ablate", f"{RESID_0}@1-2")
    assert "name encoder positions of one 30 s window" in one_line_error(run, "transcribe")


def test_unknown_hook_suggests_close_names(cli, model_loads):
    run = cli("transcribe", JFK, "--ablate", "encoder.blocks.0.hook_resid_pr@1-2")
    error = one_line_error(run, "transcribe")
    assert (
        "is not an encoder hook of this model. Did you mean encoder.blocks.0.hook_resid_pre"
        in error
    )


def test_frame_axis_hooks_are_the_encoder_hooks_with_positions_on_axis_1(tiny_en, jfk_mel):
    names = frame_axis_hooks(tiny_en)
    _, cache = tiny_en.run_with_cache(jfk_mel, tiny_en.to_tokens(" And"), names_filter=names)
    assert {cache[name].shape[1] for name in names} == {tiny_en.dims.n_audio_ctx}
    assert "encoder.blocks.3.mlp.hook_post" in names and "encoder.hook_conv2" in names
    for left_out in (
        "encoder.blocks.0.attn.hook_pattern",
        "encoder.hook_conv1",
        "decoder.blocks.0.hook_resid_pre",
    ):
        with pytest.raises(ValueError, match="no 20 ms position axis"):
            check_frame_hook(tiny_en, left_out)
    with pytest.raises(ValueError, match="only with use_attn_result on"):
        check_frame_hook(tiny_en, "encoder.blocks.0.attn.hook_result")


def test_span_syntax_and_word_changes():
    span = parse_frame_span("encoder.hook_conv2@0.5-1.25")
    assert (span.hook, span.start_s, span.end_s) == ("encoder.hook_conv2", 0.5, 1.25)
    # case and edge punctuation are not changes; a replaced run is one change
    changes = changed_words("And so, my fellow Americans ask", "and so my fellow mister asked.")
    assert [(c.index, c.before, c.after) for c in changes] == [
        (4, ("Americans", "ask"), ("mister", "asked."))
    ]
