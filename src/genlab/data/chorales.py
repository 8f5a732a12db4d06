"""The ``chorales`` dataset: Bach's four-part chorales from music21's corpus, as note events.

music21 (``pip install 'genlab[music]'``) ships the 371 chorales of
Riemenschneider's numbering as MusicXML files; nothing is downloaded. Each
chorale's four voices are merged into one stream of note events (pitch,
duration, gap, velocity; see `genlab.data.midi`), ties joined, at a fixed
tempo of 120 quarter notes a minute (0.5 s a quarter; fermatas are not held)
and a constant velocity of 80 (the scores carry no dynamics). The conversion
takes a minute or two, so its result is cached as
``$GENLAB_CACHE/music/chorales-<hash>.npz`` (default ``~/.cache/genlab``),
keyed by a hash of the corpus files' bytes and the conversion settings: a
changed corpus is converted again. Windows, scaling and the split (a
fixed-seed 10% of the chorales) are those of ``midi:PATH``.
"""

from __future__ import annotations

from ..extras import MissingExtraError
from ..cache import cache_root

import hashlib
import importlib
import sys
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..registry import DATASETS
from .midi import events_from_notes, music_data
from .sequences import SequenceData

SECONDS_PER_QUARTER = 0.5
VELOCITY = 80
#: General MIDI program the chorales are rendered with (52: choir aahs)
PROGRAM = 52
#: bump when the conversion changes, so old caches are not reused
FORMAT = 1


def music21_module():
    try:
        return importlib.import_module("music21")
    except ImportError:

        raise MissingExtraError("the chorales dataset needs music21, which the core install leaves out; "
                                "pip install 'genlab[music]'") from None


def chorale_files() -> list[tuple[str, Path]]:
    """(name, path) of every chorale in music21's corpus, in Riemenschneider's order."""
    m21 = music21_module()
    from music21.corpus import chorales  # noqa: PLC0415

    files = []
    for name in chorales.Iterator(returnType="filename"):
        found = m21.corpus.getWork(name)
        paths = [Path(str(f)) for f in (found if isinstance(found, list) else [found])]
        files.append((name, next((f for f in paths if f.suffix == ".mxl"), paths[0])))  # MusicXML where both exist
    if not files:
        raise DataError("music21's corpus holds no Bach chorales; reinstall music21 (pip install 'genlab[music]')")
    return files


def chorale_notes(path: Path) -> np.ndarray:
    """Notes (start, end, pitch, velocity) of all voices of one chorale, sorted by start then pitch."""
    m21 = music21_module()
    score = m21.converter.parse(str(path))
    rows = []
    for part in score.parts:
        for item in part.stripTies().flatten().notes:
            start = float(item.offset) * SECONDS_PER_QUARTER
            length = float(item.duration.quarterLength) * SECONDS_PER_QUARTER
            if length <= 0:  # grace notes
                continue
            rows.extend((start, start + length, p.midi, VELOCITY) for p in item.pitches)
    notes = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    return notes[np.lexsort((notes[:, 2], notes[:, 0]))]


def corpus_key(files: list[tuple[str, Path]]) -> str:
    h = hashlib.sha256(f"{FORMAT}:{SECONDS_PER_QUARTER}:{VELOCITY}".encode())
    for name, path in files:
        h.update(name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def chorale_pieces() -> list[np.ndarray]:
    """Events of every chorale, converted once and then read from the cache."""

    files = chorale_files()
    cache = cache_root() / "music" / f"chorales-{corpus_key(files)}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as f:
            events, lengths = f["events"], f["lengths"]
        return np.split(events, np.cumsum(lengths)[:-1])
    print(f"genlab: converting {len(files)} Bach chorales from music21's corpus (once; cached in {cache})",
          file=sys.stderr, flush=True)
    pieces = [events_from_notes(chorale_notes(path)) for _, path in files]
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.tmp.npz")
    np.savez_compressed(tmp, events=np.concatenate(pieces), lengths=np.array([len(p) for p in pieces]),
                        names=np.array([name for name, _ in files]))
    tmp.replace(cache)
    return pieces


@DATASETS.register("chorales")
def chorales(root: str | None = None, split: str = "train", image_size: int | None = None, seq_len: int = 32,
             stride: int | None = None, seed: int = 0) -> SequenceData:
    """Bach's chorales (music21's corpus) as windows of note events."""
    source = {"loader": "chorales", "seed": seed}
    return music_data("chorales", chorale_pieces(), split, seq_len, stride, source, program=PROGRAM, seed=seed)
