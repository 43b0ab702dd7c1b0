"""Pairs the project has never seen, through the command line a researcher uses: a CSV of new
sentences is synthesised, studied with `hooked-audio study`, and in every pair the changed
word's frames (and only those) carry the answer, in both directions."""

from __future__ import annotations

import json

import pandas as pd

from hooked_audio.cli import main

HELD_OUT = """sentence,word,replacement
The old man walked his dog along the river.,dog,cat
Please close the window before you leave.,window,door
My brother lives in a small village near the coast.,village,city
"""


def test_held_out_pairs_are_localised_through_the_cli_slow(tmp_path, capsys):
    csv = tmp_path / "held_out.csv"
    csv.write_text(HELD_OUT)
    out = tmp_path / "study"
    argv = ["study", str(csv), "--out", str(out), "--layers", "0", "3", "--no-report", "--json"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(summary["pairs"]) == 3 and not summary["skipped"]

    rows = pd.read_json(out / "results.jsonl", lines=True)
    changed = dict(zip(pd.read_csv(csv)["word"], pd.read_csv(csv)["replacement"], strict=True))
    for (pair, direction, layer), cells in rows.groupby(["pair", "direction", "layer"]):
        word = cells["changed_word"].iloc[0]
        assert word in changed and cells["replacement"].iloc[0] == changed[word]
        is_word = cells["label"].str.strip(".,") == word
        assert is_word.sum() == 1, (pair, cells["label"].tolist())
        inside, outside = cells[is_word]["normalised"], cells[~is_word]["normalised"]
        if direction == "denoise":  # the word's clean frames alone restore the answer
            assert inside.item() > 0.8 and outside.abs().max() < 0.2, (pair, layer)
        else:  # corrupting the word's frames alone removes it; other frames do not
            assert inside.item() < 0.2 and (outside > 0.8).all(), (pair, layer)
