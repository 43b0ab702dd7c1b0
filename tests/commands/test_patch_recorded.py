"""`hooked-audio patch --align` on two separate takes of one speaker (recorded speech, no
reference times, no `--change`): the changed word's cell holds the effect, the time axis agrees,
and a time warp that changes what the model hears is named with the way out. The pair with
"poofy" uses a take kept out of the repository (`held_out_take`, fetched from the sdist)."""

from __future__ import annotations

import json

import soundfile

from hooked_audio.recordings import held_out_take, recorded_pair


def aligned_patch(cli, clean, corrupt, *extra) -> dict:
    run = cli("patch", clean, corrupt, "--align", "--layers", "0", "3", "--json", *extra)
    assert run.code == 0, run.err
    return json.loads(run.out)


def held_out(tmp_path, name):
    path = tmp_path / f"{name}.flac"
    soundfile.write(path, held_out_take(name), 16000)
    return path


def changed_cell_holds_the_effect(report, word):
    changed = report["cells"].index(word)
    assert report["in_changed_word"][changed]
    denoise = report["directions"]["denoise"]["normalised"]
    noise = report["directions"]["noise"]["normalised"]
    for layer in range(2):
        others = [i for i in range(len(report["cells"])) if i != changed]
        assert denoise[layer][changed] > max(denoise[layer][i] for i in others) + 0.3
        assert 1 - noise[layer][changed] > max(1 - noise[layer][i] for i in others)
    return report["cell_seconds"][changed]


def test_a_held_out_pair_of_takes_is_localised_without_change_or_words_slow(
    cli, model_loads, tmp_path
):
    puddy, _ = recorded_pair()
    report = aligned_patch(cli, puddy, held_out(tmp_path, "mfa_poofy"))
    assert (report["clean_text"], report["corrupt_text"]) == (
        "MFA is like putty.",
        "MFA is like poofy.",
    )
    assert not report["named_change"]
    start, end = changed_cell_holds_the_effect(report, "putty.")
    for check in report["time_axis"].values():
        assert check["inside_share"] > 0.9 and not check["suspect"]
        assert start <= check["peak_s"] <= end


def test_the_shipped_pair_puts_the_effect_at_the_consonant_it_changes_slow(cli, model_loads):
    """puddy/buddy differ in the first consonant: the time axis finds the effect at its burst
    (1.8-1.92 s on the log-mel), whatever the word cells say."""
    report = aligned_patch(cli, *recorded_pair())
    assert report["corrupt_text"] == "MFA is like buddy."
    changed_cell_holds_the_effect(report, "putty.")
    for check in report["time_axis"].values():
        assert 1.8 <= check["peak_s"] <= 1.92


def test_a_warp_that_changes_what_is_heard_is_named_with_the_change_to_pass(
    cli, model_loads, tmp_path
):
    _, buddy = recorded_pair()
    run = cli("patch", buddy, held_out(tmp_path, "mfa_poofy"), "--align", "--layers", "0")
    assert run.code != 0
    assert "is heard as 'MFA is like poofy.'" in run.err
    assert "the time warp of --align changed what the model hears" in run.err
    assert "--change Buddy poofy" in run.err
