"""The minimal-pair part of `hooked-audio demo` prints a result that means something: the
changed word's frames, and only those, bring the answer back."""

from __future__ import annotations

from hooked_audio import cli
from hooked_audio.demo_pairs import pairs_demo


def test_pairs_demo_finds_the_changed_word(tiny_en):
    lines: list[str] = []
    results = pairs_demo(tiny_en, layers=(0, 3), out=lines.append)
    assert len(results) == 1
    result = results[0]
    assert result.layers == [0, 3] and result.changed_word in result.words
    word = result.words.index(result.changed_word)
    for li in range(len(result.layers)):
        row = result.recovery[li]
        assert result.best_word(li) == result.changed_word
        assert row[word] > 0.8
        assert max(abs(v) for i, v in enumerate(row) if i != word) < 0.2
    printed = "\n".join(lines)
    assert "3 content, 2 speaker, 2 prosody" in printed
    assert f"answer ' {result.changed_word}'" in printed
    assert (
        f"layer 0: {result.changed_word!r}, layer 3: {result.changed_word!r} "
        f"(changed word: {result.changed_word!r})"
    ) in printed


def test_demo_command_line_reaches_the_pairs_part(monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "demo", lambda *args: calls.append(args))
    assert cli.main(["demo"]) == 0
    assert cli.main(["demo", "--pair-layers", "1", "2", "--all-pairs"]) == 0
    assert calls[0][-2:] == ([0, 3], False)
    assert calls[1][-2:] == ([1, 2], True)
