"""A small on-disk format for minimal pairs (clean / corrupt audio of equal length).

Layout of a saved :class:`PairSet` directory::

    manifest.jsonl          one JSON object per pair, in order
    {id}_clean.flac         16 kHz mono, 24-bit PCM (PCM_24)
    {id}_corrupt.flac

Audio file paths in a manifest must lie inside the directory (no absolute paths, no
``..`` or symlinks leading out); :meth:`PairSet.save` writes only inside it and replaces,
never follows, a symlink at a target path.

Each manifest line has the keys ``id``, ``kind``, ``clean_text``, ``corrupt_text``,
``differing_words``, ``spans_s`` (list of ``[start_s, end_s]`` in the clean audio),
``clean_audio`` / ``corrupt_audio`` (file paths relative to the directory),
``sample_rate`` (16000), ``answer`` (``null`` or ``{"correct": str, "incorrect": str}``),
``alignment_score`` (``null`` or a float, e.g. :attr:`AlignedPair.score`) and ``meta``
(a JSON object, default ``{}``).

Audio is clipped to ``[-1, 1]`` and stored as 24-bit FLAC (FLAC has no float subtype),
so a load returns the saved audio within ``2**-23`` (< 1e-6) of the clipped input.
Clean and corrupt audio must have the same number of samples (patching swaps activations
frame by frame); align separate recordings first with
:func:`hooked_audio.corruptions.align.align_pair`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, MutableSequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hooked_audio.audio.errors import AudioInputError
from hooked_audio.audio.waveform import Audio
from hooked_audio.corruptions._checks import SAMPLE_RATE, as_audio, check_audio
from hooked_audio.safe_files import check_pair_id, path_inside, write_inside

PAIR_KINDS = ("speaker", "content", "prosody", "noise", "custom")
MANIFEST = "manifest.jsonl"

__all__ = ["PAIR_KINDS", "MinimalPair", "PairSet"]


def _mismatch_message(pid: str, n_clean: int, n_corrupt: int, where: str = "") -> str:
    return (
        f"MinimalPair {pid!r}{where}: clean has {n_clean} samples but corrupt has {n_corrupt}; "
        "clean and corrupt audio must have the same length. Align a separate recording "
        "with hooked_audio.corruptions.align.align_pair(clean, corrupt).warped, or "
        "trim/pad it."
    )


@dataclass
class MinimalPair:
    """One clean / corrupt pair.

    Attributes:
        id: unique name, also the audio file stem (letters, digits, ``_ . -``, at most
            200 characters); fixed once the pair is made (build a new pair with
            ``dataclasses.replace(pair, id=...)`` to rename it).
        kind: one of ``"speaker"``, ``"content"``, ``"prosody"``, ``"noise"``, ``"custom"``.
        clean_text / corrupt_text: transcripts.
        differing_words: the words that differ between the two.
        spans_s: ``(start_s, end_s)`` time spans of the differing words in the clean audio.
        clean_audio / corrupt_audio: 1-D float32 :class:`~hooked_audio.audio.Audio` at
            16 kHz, equal length (``model.to_frames(pair.clean_audio)`` needs no rate).
        answer: ``None`` or ``{"correct": token_str, "incorrect": token_str}``.
        alignment_score: ``None`` or e.g. :attr:`AlignedPair.score`.
        meta: free-form JSON-serialisable extras.
    """

    id: str
    kind: str
    clean_text: str
    corrupt_text: str
    differing_words: list[str]
    spans_s: list[tuple[float, float]]
    clean_audio: Audio
    corrupt_audio: Audio
    answer: dict[str, str] | None = None
    alignment_score: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_pair_id(self.id)
        if self.kind not in PAIR_KINDS:
            raise ValueError(
                f"MinimalPair {self.id!r}: kind must be one of {PAIR_KINDS}, got {self.kind!r}."
            )
        for name in ("clean_text", "corrupt_text"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"MinimalPair {self.id!r}: {name} must be a str.")
        if isinstance(self.differing_words, str) or not all(
            isinstance(w, str) for w in self.differing_words
        ):
            raise TypeError(
                f"MinimalPair {self.id!r}: differing_words must be a list of str, "
                f"got {self.differing_words!r}."
            )
        self.differing_words = list(self.differing_words)
        spans = []
        for sp in self.spans_s:
            try:
                a, b = (float(v) for v in sp)
            except (TypeError, ValueError):
                raise ValueError(
                    f"MinimalPair {self.id!r}: each span must be (start_s, end_s), got {sp!r}."
                ) from None
            if not (math.isfinite(a) and math.isfinite(b) and 0 <= a < b):
                raise ValueError(
                    f"MinimalPair {self.id!r}: span {sp!r} needs finite 0 <= start_s < end_s."
                )
            spans.append((a, b))
        self.spans_s = spans
        fn = f"MinimalPair {self.id!r}"
        self.clean_audio = as_audio(check_audio(self.clean_audio, fn, "clean_audio"))
        self.corrupt_audio = as_audio(check_audio(self.corrupt_audio, fn, "corrupt_audio"))
        if self.clean_audio.size != self.corrupt_audio.size:
            raise AudioInputError(
                _mismatch_message(self.id, self.clean_audio.size, self.corrupt_audio.size)
            )
        duration = self.clean_audio.size / SAMPLE_RATE
        for a, b in self.spans_s:
            if b > duration + 0.5 / SAMPLE_RATE:
                raise ValueError(
                    f"MinimalPair {self.id!r}: span ({a}, {b}) ends after the clean audio "
                    f"({duration:.4f} s)."
                )
        if self.answer is not None:
            if (
                not isinstance(self.answer, dict)
                or set(self.answer) != {"correct", "incorrect"}
                or not all(isinstance(v, str) for v in self.answer.values())
            ):
                raise ValueError(
                    f"MinimalPair {self.id!r}: answer must be None or "
                    f"{{'correct': str, 'incorrect': str}}, got {self.answer!r}."
                )
            self.answer = dict(self.answer)
        if self.alignment_score is not None:
            self.alignment_score = float(self.alignment_score)
        if not isinstance(self.meta, dict):
            raise TypeError(f"MinimalPair {self.id!r}: meta must be a dict.")

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "id" and "id" in self.__dict__:
            raise AttributeError(
                f"MinimalPair {self.id!r}: id is fixed once the pair is made (it names the "
                f"audio files); make a renamed copy with dataclasses.replace(pair, id={value!r})."
            )
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if name == "id":
            raise AttributeError(f"MinimalPair {self.id!r}: id cannot be deleted.")
        super().__delattr__(name)

    def _manifest_entry(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "clean_text": self.clean_text,
            "corrupt_text": self.corrupt_text,
            "differing_words": self.differing_words,
            "spans_s": [[a, b] for a, b in self.spans_s],
            "clean_audio": f"{self.id}_clean.flac",
            "corrupt_audio": f"{self.id}_corrupt.flac",
            "sample_rate": SAMPLE_RATE,
            "answer": self.answer,
            "alignment_score": self.alignment_score,
            "meta": self.meta,
        }


def write_pair_files(directory: Path, pair: MinimalPair) -> str:
    """Write `pair`'s two FLAC files into `directory` (links replaced, never followed) and
    return its manifest line (JSON, no newline)."""
    import soundfile as sf

    entry = pair._manifest_entry()
    for key, audio in (("clean_audio", pair.clean_audio), ("corrupt_audio", pair.corrupt_audio)):
        samples = np.clip(np.asarray(audio), -1.0, 1.0)
        write_inside(
            directory,
            entry[key],
            lambda f, x=samples: sf.write(f, x, SAMPLE_RATE, format="FLAC", subtype="PCM_24"),
        )
    return json.dumps(entry, ensure_ascii=False)


class PairSet(MutableSequence):
    """A list of :class:`MinimalPair` with unique ids, saved as manifest + FLAC files."""

    def __init__(self, pairs: Iterable[MinimalPair] = ()) -> None:
        self._pairs: list[MinimalPair] = []
        for p in pairs:
            self.append(p)

    @staticmethod
    def _check(p: object) -> MinimalPair:
        if not isinstance(p, MinimalPair):
            raise TypeError(f"PairSet holds MinimalPair objects, got {type(p).__name__}.")
        return p

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return PairSet(self._pairs[i])
        return self._pairs[i]

    def __setitem__(self, i, value) -> None:  # type: ignore[override]
        if isinstance(i, slice):
            value = [self._check(v) for v in value]
        else:
            self._check(value)
        self._pairs[i] = value

    def __delitem__(self, i) -> None:  # type: ignore[override]
        del self._pairs[i]

    def __len__(self) -> int:
        return len(self._pairs)

    def insert(self, index: int, value: MinimalPair) -> None:
        self._pairs.insert(index, self._check(value))

    def __repr__(self) -> str:
        return f"PairSet({len(self)} pairs)"

    def batches(self, batch_size: int) -> Iterator[list[MinimalPair]]:
        """Yield consecutive lists of ``batch_size`` pairs (the last may be shorter)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
        for start in range(0, len(self._pairs), batch_size):
            yield self._pairs[start : start + batch_size]

    def save(self, directory: str | Path) -> Path:
        """Write ``manifest.jsonl`` and ``{id}_clean.flac`` / ``{id}_corrupt.flac`` into
        ``directory`` (created if needed; an existing manifest and same-named files are
        replaced, symlinks included: nothing is written outside ``directory``). Returns the
        manifest path."""
        ids = [check_pair_id(p.id) for p in self._pairs]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"PairSet.save: duplicate pair ids {dupes}; ids name the files.")
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        lines = []
        for p in self._pairs:
            lines.append(write_pair_files(d, p))
        text = "".join(line + "\n" for line in lines).encode("utf-8")
        return write_inside(d, MANIFEST, lambda f: f.write(text))

    @classmethod
    def load(cls, directory: str | Path) -> PairSet:
        """Read a directory written by :meth:`save`.

        Raises ``ValueError`` naming the manifest line if an audio path in it lies outside
        ``directory`` (absolute, ``..``, or a symlink leading out)."""
        import soundfile as sf

        d = Path(directory)
        manifest = d / MANIFEST
        if not manifest.is_file():
            raise FileNotFoundError(
                f"PairSet.load: no {MANIFEST} in {str(d)!r}; a pair-set directory is written "
                "by PairSet.save(directory)."
            )
        if not manifest.resolve().is_relative_to(d.resolve()):
            raise ValueError(
                f"PairSet.load: {str(manifest)!r} is a symlink to {str(manifest.resolve())!r}, "
                "outside the pair directory; copy the manifest into the directory instead."
            )
        out = cls()
        try:
            text = manifest.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(
                f"PairSet.load: {manifest} is not UTF-8 text ({err}); PairSet.save writes "
                "UTF-8. Save the set again, or re-encode the manifest as UTF-8."
            ) from None
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                e = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(
                    f"PairSet.load: {manifest}:{lineno} is not valid JSON ({err})."
                ) from err
            if not isinstance(e, dict):
                raise ValueError(
                    f"PairSet.load: {manifest}:{lineno} is a {type(e).__name__}, not a pair "
                    "(a JSON object with id, kind, clean_audio, corrupt_audio)."
                )
            missing = [k for k in ("id", "kind", "clean_audio", "corrupt_audio") if k not in e]
            if missing:
                raise ValueError(f"PairSet.load: {manifest}:{lineno} lacks keys {missing}.")
            audio = {}
            for key in ("clean_audio", "corrupt_audio"):
                path = path_inside(d, e[key], f"{manifest}:{lineno} (pair {e['id']!r}, {key})")
                if not path.is_file():
                    raise FileNotFoundError(
                        f"PairSet.load: pair {e['id']!r} ({manifest}:{lineno}) names audio file "
                        f"{str(path)!r}, which does not exist."
                    )
                try:
                    data, rate = sf.read(str(path), dtype="float32", always_2d=False)
                except (sf.LibsndfileError, RuntimeError) as err:
                    raise AudioInputError(
                        f"PairSet.load: pair {e['id']!r} ({manifest}:{lineno}) names "
                        f"{str(path)!r}, which is not audio soundfile can read ({err}). "
                        "Replace it with the pair's audio, or save the set again."
                    ) from None
                if rate != SAMPLE_RATE or data.ndim != 1:
                    raise AudioInputError(
                        f"PairSet.load: {str(path)!r} is {rate} Hz with shape {data.shape}; "
                        "pair audio must be 16 kHz mono (resample with hooked_audio.load_audio)."
                    )
                audio[key] = data
            if audio["clean_audio"].size != audio["corrupt_audio"].size:
                raise AudioInputError(
                    _mismatch_message(
                        e["id"],
                        audio["clean_audio"].size,
                        audio["corrupt_audio"].size,
                        f" ({manifest}:{lineno})",
                    )
                )
            out.append(
                MinimalPair(
                    id=e["id"],
                    kind=e["kind"],
                    clean_text=e.get("clean_text", ""),
                    corrupt_text=e.get("corrupt_text", ""),
                    differing_words=e.get("differing_words", []),
                    spans_s=[tuple(s) for s in e.get("spans_s", [])],
                    clean_audio=audio["clean_audio"],
                    corrupt_audio=audio["corrupt_audio"],
                    answer=e.get("answer"),
                    alignment_score=e.get("alignment_score"),
                    meta=e.get("meta") or {},
                )
            )
        return out
