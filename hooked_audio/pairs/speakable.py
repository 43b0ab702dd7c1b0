"""Is a text something espeak-ng can speak word by word? Checks before and after synthesis.

A *word* of a text is a whitespace-separated chunk, named without the sentence punctuation
and quotes around it (`"Americans,"` -> `"Americans"`; spoken symbols such as `%` stay).
Minimal pairs need every word spoken and timed, so:

Before synthesis (`check_text`), refused with a `ValueError`:
  - text with no word holding a letter or digit (`"!!! ???"`, `"..."`); digits alone are
    fine, espeak-ng reads numbers (`"123"` -> "one hundred and twenty-three");
  - symbols espeak-ng reads as their Unicode names or skips (emoji, `©`, `™`, `♪`:
    Unicode category "Symbol, other"), private-use and unassigned code points;
  - for an English voice (`en`, `en-us`, `en-gb+f3`, ...), letters outside the Latin
    script (`"γεια"`, `"你好"`): the voice spells them out or names them ("Chinese
    letter"). Other voices are not script-checked.

After synthesis (`words_from_events`): espeak-ng's word events, each naming a character
position in the text, are grouped by word (a number or `"50%"` gives several events, kept
as one word). A word espeak-ng reads together with the one before ("on the": one event)
joins it. Any other word with a letter or digit but no event means the events do not
match the text (`"hello ____ world"`: the event of "world" lands on the underscores).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_UNREADABLE = {
    "So": "a symbol",
    "Co": "a private-use character",
    "Cn": "an unassigned code point",
    "Cs": "a lone surrogate",
}

__all__ = ["TextWord", "check_text", "text_words", "words_from_events"]


@dataclass(frozen=True)
class TextWord:
    """A word of the text: `label` (punctuation around it stripped) and its characters
    `[start, end)` in the text."""

    label: str
    start: int
    end: int

    @property
    def pronounceable(self) -> bool:
        return any(c.isalnum() for c in self.label)


# sentence punctuation, brackets, quotes (ASCII and typographic), dashes, ellipsis
_AROUND = (
    ".,;:!?\"'()[]{}<>-"
    "\u00ab\u00bb\u201c\u201d\u201e\u2018\u2019\u201a\u2026\u2013\u2014\u00a1\u00bf"
)


def _strip_punctuation(chunk: str) -> str:
    """The chunk without sentence punctuation and quotes around it (symbols that are spoken,
    such as `%` or `&`, stay); the chunk itself if nothing is left."""
    return chunk.strip(_AROUND) or chunk


def text_words(text: str) -> list[TextWord]:
    """The whitespace-separated chunks of `text`, labelled without surrounding punctuation."""
    return [
        TextWord(_strip_punctuation(m.group()), m.start(), m.end())
        for m in re.finditer(r"\S+", text)
    ]


def _is_english(voice: str) -> bool:
    return re.split(r"[-+_]", voice.strip().lower(), maxsplit=1)[0] == "en"


def check_text(text: str, voice: str) -> list[TextWord]:
    """Refuse text espeak-ng cannot speak word by word (see the module docstring); return
    its words."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("Nothing to speak: the text is empty.")
    words = text_words(text)
    if not any(w.pronounceable for w in words):
        raise ValueError(
            f"{text!r} has no pronounceable word: it holds only punctuation or symbols. Give "
            "the text words (letters, or digits for numbers), e.g. 'Ask not what ...'."
        )
    odd = sorted({c for c in text if unicodedata.category(c) in _UNREADABLE})
    if odd:
        names = ", ".join(
            f"{c!r} ({_UNREADABLE[unicodedata.category(c)]}, "
            f"{unicodedata.name(c, f'U+{ord(c):04X}')})"
            for c in odd
        )
        raise ValueError(
            f"{text!r} contains characters espeak-ng cannot speak as words: {names}. It would "
            "read them by their Unicode names or skip them, and the word timings would not "
            "match the text; remove them or write them out as words."
        )
    if _is_english(voice):
        foreign = list(
            dict.fromkeys(
                c for c in text if c.isalpha() and not unicodedata.name(c, "").startswith("LATIN")
            )
        )
        if foreign:
            raise ValueError(
                f"{text!r} has letters the English voice {voice!r} cannot read "
                f"({''.join(foreign)!r}, not Latin script): it would spell them out or name "
                "them. Use a voice for that language (e.g. voice='el' for Greek, 'cmn' for "
                "Mandarin; see `espeak-ng --voices`) or transliterate the text."
            )
    return words


def words_from_events(
    text: str, words: list[TextWord], events: list[tuple[int, float]]
) -> list[tuple[str, float]]:
    """`(label, start_s)` per spoken word of `text`, from espeak-ng's word events
    `(character index in text, start_s)`; the first event inside a word gives its start.

    espeak-ng reads some short words together with the word before them and reports one
    event for both ("on the", "of the", "in the"): such a word joins the previous one
    (label `"on the"`). A pronounceable word with no event and no spoken word before it to
    join (the first word, or one after a symbol-only chunk such as `"____"`, which takes
    the next word's event) means the events do not match the text: ValueError."""
    first: dict[int, float] = {}
    for index, start_s in events:
        for k, w in enumerate(words):
            if w.start <= index < w.end:
                first.setdefault(k, start_s)
                break
    spoken: list[tuple[str, float]] = []
    joinable = False  # the last kept word is pronounceable and has its own event
    for k, w in enumerate(words):
        if k in first:
            spoken.append((w.label, first[k]))
            joinable = w.pronounceable
        elif w.pronounceable and joinable:
            spoken[-1] = (f"{spoken[-1][0]} {w.label}", spoken[-1][1])
        elif w.pronounceable:
            raise ValueError(
                f"espeak-ng's word events do not match the words of {text!r}: it gave no "
                f"event for {w.label!r} (it skipped it, or gave its event to the symbols "
                "before it). Remove unusual characters near that word (underscores, "
                "symbols) or spell them as plain words."
            )
    return spoken
