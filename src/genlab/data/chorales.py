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
changed corpus is converted again; it also keeps each chorale's key shift
(music21's key analysis, `genlab.data.keys`). Transposition to C major / A
minor (default on), the pitch-class columns, windows, scaling and the split
(a fixed-seed 10% of the chorales) are those of ``midi:PATH``.
"""

from __future__ import annotations

from ..cache import cache_root

import hashlib
import sys
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..registry import DATASETS
from .keys import key_shift, music21_module
from .midi import events_from_notes, music_data
from .sequences import SequenceData

SECONDS_PER_QUARTER = 0.5
VELOCITY = 80
#: General MIDI program the chorales are rendered with (52: choir aahs)
PROGRAM = 52
#: bump when the conversion changes, so old caches are not reused
FORMAT = 1


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


def chorale_pieces() -> tuple[list[np.ndarray], list[int]]:
    """Events of every chorale and the shift that moves it to C major / A minor (`genlab.data.keys`),
    converted once and then read from the cache."""

    files = chorale_files()
    cache = cache_root() / "music" / f"chorales-{corpus_key(files)}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as f:
            stored = {k: f[k] for k in f.files}
        pieces = np.split(stored["events"], np.cumsum(stored["lengths"])[:-1])
        if "shifts" in stored:
            return pieces, stored["shifts"].astype(int).tolist()
    else:
        print(f"genlab: converting {len(files)} Bach chorales from music21's corpus (once; cached in {cache})",
              file=sys.stderr, flush=True)
        pieces = [events_from_notes(chorale_notes(path)) for _, path in files]
        stored = {"events": np.concatenate(pieces), "lengths": np.array([len(p) for p in pieces]),
                  "names": np.array([name for name, _ in files])}
    shifts = [key_shift(p) for p in pieces]  # a cache from before keys were stored gains them
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.tmp.npz")
    np.savez_compressed(tmp, **stored, shifts=np.array(shifts))
    tmp.replace(cache)
    return pieces, shifts


@DATASETS.register("chorales")
def chorales(root: str | None = None, split: str = "train", image_size: int | None = None, seq_len: int = 32,
             stride: int | None = None, seed: int = 0, transpose: bool = True,
             pitch_classes: bool = True) -> SequenceData:
    """Bach's chorales (music21's corpus) as windows of note events, by default moved to C major / A minor."""
    source = {"loader": "chorales", "seed": seed}
    pieces, shifts = chorale_pieces()
    return music_data("chorales", pieces, split, seq_len, stride, source, program=PROGRAM, seed=seed,
                      transpose=transpose, pitch_classes=pitch_classes, shifts=shifts)
