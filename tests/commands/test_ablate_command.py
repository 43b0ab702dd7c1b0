"""`hooked-audio ablate`: a small study end to end, and its argument errors (each refused
before the model loads, with the fix in the message)."""

import json

import pytest
import soundfile

from hooked_audio.cli import main
from hooked_audio.interventions import non_speech_clips


def _fail(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_ablate_writes_a_study_folder_slow(tmp_path, capsys):
    clips = tmp_path / "clips"
    clips.mkdir()
    for name, audio in non_speech_clips(["silence", "white_noise"], seconds=2.0).items():
        soundfile.write(clips / f"{name}.wav", audio, 16000)
    out = tmp_path / "run"
    assert main(["ablate", str(clips), "--layers", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 clips x (6 sites + the baseline" in printed
    assert "hallucination with nothing ablated" in printed
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 7 * 2 and {r["clip"] for r in rows} == {"silence", "white_noise"}
    assert (out / "figures" / "ablation.png").is_file() and (out / "summary.csv").is_file()


def test_ablate_refuses_bad_arguments_before_loading(tmp_path, capsys):
    assert "use it with --ray" in _fail(capsys, ["ablate", "non-speech", "--workers", "2"])
    assert "give --reference" in _fail(capsys, ["ablate", "non-speech", "--ablation", "mean"])
    soundfile.write(tmp_path / "a.wav", non_speech_clips(["tone_1khz"])["tone_1khz"], 16000)
    err = _fail(capsys, ["ablate", str(tmp_path), "--metric", "wer"])
    assert "['a'] have none" in err and "<name>.txt" in err
    assert "not a folder of clips" in _fail(capsys, ["ablate", str(tmp_path / "nowhere")])
