"""Keys of note-event pieces: music21's key analysis, and transposing a piece to C major / A minor.

Many symbolic-music models train on pieces moved to a common tonic, so that
"in key" means the same pitch classes in every piece. `key_shift(events)`
finds a piece's key with music21 (``Stream.analyze("key")``, its default
Krumhansl-Schmuckler-style profile matching) from the piece's pitch classes
weighted by how long they sound, and returns the semitones (-6..5, the
smaller move) that take the tonic to C (major keys) or A (minor keys);
`transpose` applies such a shift to the events' pitch column.
"""

from __future__ import annotations

import importlib

import numpy as np

from ..extras import MissingExtraError

#: pitch class each mode's tonic is moved to: C major, A minor (the same scale)
TARGET = {"major": 0, "minor": 9}


def music21_module():
    try:
        return importlib.import_module("music21")
    except ImportError:
        raise MissingExtraError("key analysis of music needs music21, which the core install leaves out; "
                                "pip install 'genlab[music]'") from None


def key_of(events: np.ndarray) -> tuple[int, str]:
    """(tonic pitch class, mode) of a piece of events (pitch, duration, ...), by music21's key analysis."""
    m21 = music21_module()
    ev = np.asarray(events, dtype=np.float64).reshape(len(events), -1)
    weights = np.bincount(np.rint(ev[:, 0]).astype(int) % 12, weights=np.maximum(ev[:, 1], 1e-3), minlength=12)
    stream = m21.stream.Stream()
    for pc, w in enumerate(weights):  # one note per pitch class, as long as that class sounds in the piece
        if w > 0:
            n = m21.note.Note(60 + pc)
            n.quarterLength = float(w)
            stream.append(n)
    if not len(stream):
        return 0, "major"
    key = stream.analyze("key")
    return int(key.tonic.pitchClass), str(key.mode)


def key_shift(events: np.ndarray) -> int:
    """Semitones (-6..5) that move the piece's key to C major or A minor."""
    tonic, mode = key_of(events)
    return int((TARGET.get(mode, 0) - tonic + 6) % 12 - 6)


def transpose(events: np.ndarray, shift: int) -> np.ndarray:
    """The events with their pitch (column 0) moved by `shift` semitones."""
    out = np.array(events, dtype=np.float64)
    out[:, 0] += shift
    return out
