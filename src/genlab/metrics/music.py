"""Mogren's statistics of generated music, against real music and random notes.

C-RNN-GAN (Mogren 2016) judged its samples by four statistics, each
computed per sequence of note events (pitch, duration, gap, velocity in
original units; see `genlab.data.midi`) after rounding to what a MIDI file
plays, then averaged over sequences:

- ``polyphony``: the share of notes that start together with the note before
  them (within `SIMULTANEOUS` seconds), i.e. how often two or more tones sound
  at once;
- ``scale_consistency``: the share of notes whose pitch class lies in the best
  matching major scale (of 12; natural minor scales are the same sets);
- ``repetitions``: the share of pitch 3-grams that repeat an earlier 3-gram
  of the same sequence;
- ``tone_span``: semitones between the lowest and the highest pitch.

`music_scores` reports each statistic for the samples, for real held-out
sequences and for a random-note baseline (every feature drawn uniformly in
the data's range), and counts the statistics on which the samples are closer
to the real value than random notes are.
"""

from __future__ import annotations

from ..data.midi import notes_from_events

from typing import Any

import numpy as np

#: notes starting within this many seconds of each other count as simultaneous
SIMULTANEOUS = 0.03
STATISTICS = ("polyphony", "scale_consistency", "repetitions", "tone_span")
MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
#: 12 x 12: row k marks the pitch classes of the major scale on k
SCALES = np.zeros((12, 12), dtype=bool)
for _k in range(12):
    SCALES[_k, (MAJOR + _k) % 12] = True


def sequence_statistics(events: np.ndarray) -> dict[str, float]:
    """Mogren's four statistics of one sequence of events (K x 4, original units)."""

    notes = notes_from_events(events)
    if len(notes) == 0:
        return {k: float("nan") for k in STATISTICS}
    pitch = notes[:, 2].astype(int)
    onsets = notes[:, 0]
    together = np.abs(np.diff(onsets)) <= SIMULTANEOUS
    histogram = np.bincount(pitch % 12, minlength=12)
    grams = [tuple(pitch[i:i + 3]) for i in range(len(pitch) - 2)]
    repeats = len(grams) - len(set(grams))
    return {"polyphony": float(together.mean()) if len(together) else 0.0,
            "scale_consistency": float((SCALES @ histogram).max() / len(pitch)),
            "repetitions": repeats / len(grams) if grams else 0.0,
            "tone_span": float(pitch.max() - pitch.min())}


def music_statistics(sequences: Any) -> dict[str, float]:
    """The four statistics averaged over N x T x 4 sequences of events (original units)."""
    seqs = np.asarray(sequences, dtype=np.float64)
    rows = [sequence_statistics(s) for s in seqs]
    return {k: float(np.nanmean([r[k] for r in rows])) for k in STATISTICS}


def random_notes(n: int, seq_len: int, low: Any, high: Any, seed: int = 0) -> np.ndarray:
    """The random-note baseline: N x T x 4 events, each feature uniform in [low, high] (pitch whole)."""
    rng = np.random.default_rng(seed)
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    out = rng.uniform(low, high, size=(n, seq_len, len(low)))
    out[..., 0] = rng.integers(int(low[0]), int(high[0]) + 1, size=(n, seq_len))
    return out


def music_scores(real: Any, fake: Any, info: dict[str, Any], seed: int = 0) -> dict[str, float]:
    """``mogren_<stat>`` (samples), ``_real`` and ``_random`` for each statistic, and
    ``mogren_closer_than_random``: on how many of the four the samples beat random notes."""
    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    scaler = info["scaler"]
    rand = random_notes(len(fake), fake.shape[1], scaler["min"], scaler["max"], seed)
    ours, truth, base = music_statistics(fake), music_statistics(real), music_statistics(rand)
    out: dict[str, float] = {}
    closer = 0
    for k in STATISTICS:
        out[f"mogren_{k}"], out[f"mogren_{k}_real"], out[f"mogren_{k}_random"] = ours[k], truth[k], base[k]
        closer += abs(ours[k] - truth[k]) < abs(base[k] - truth[k])
    out["mogren_closer_than_random"] = float(closer)
    return out
