"""Note events as model features (a pitch-class one-hot next to the events) and back.

A model that emits pitch as one continuous number (scaled to [0, 1] and
rounded to a MIDI number when played) lands on a chromatic neighbour as soon
as it is half a semitone off; measured on rgan and seqvae trained 10 minutes
on the chorales, the generated pitch values sat uniformly between whole
numbers and their pitch classes were uniform, so no sample kept a key. With
``pitch_classes`` (the default of ``chorales`` and ``midi:PATH``) the data
carry, after the four event features (pitch, duration, gap, velocity), the
pitch class as 12 one-hot columns. ``info["one_hot"]`` lists such groups as
``[start, size]``; the sequence families emit a categorical output there.
Decoding takes the class from the group (its largest value) and the octave
from the continuous pitch: the MIDI number of that class nearest to it.
Real data decode to exactly their notes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

EVENT_FEATURES = ["pitch", "duration", "gap", "velocity"]
PITCH_CLASSES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]


def feature_names(pitch_classes: bool) -> list[str]:
    return EVENT_FEATURES + ([f"pc_{name}" for name in PITCH_CLASSES] if pitch_classes else [])


def encode_events(events: np.ndarray, pitch_classes: bool) -> np.ndarray:
    """Events K x 4 (original units) -> features K x 4 (or K x 16 with the pitch-class one-hot)."""
    ev = np.asarray(events, dtype=np.float64).reshape(-1, 4)
    if not pitch_classes:
        return ev
    onehot = np.eye(12)[np.rint(ev[:, 0]).astype(int) % 12]
    return np.concatenate([ev, onehot], 1)


def pitch_class_group(info: dict[str, Any]) -> tuple[int, int] | None:
    """(start, size) of the pitch-class one-hot columns of music data, or None (pitch alone)."""
    music = info.get("music") or {}
    return tuple(music["pitch_classes"]) if music.get("pitch_classes") else None


def events_from_features(x: Any, info: dict[str, Any]) -> np.ndarray:
    """Features ... x D in original units -> note events ... x 4 (pitch snapped to the one-hot's class)."""
    x = np.asarray(x, dtype=np.float64)
    events = x[..., :4].copy()
    group = pitch_class_group(info)
    if group is not None:
        start, size = group
        pc = x[..., start:start + size].argmax(-1)
        pitch = events[..., 0]
        move = (pc - pitch) % 12
        events[..., 0] = np.rint(pitch + np.where(move >= 6, move - 12, move))
    return events


def event_range(info: dict[str, Any]) -> dict[str, list[float]]:
    """The event features' range in the data (for the random-note baseline): ``{"min": [4], "max": [4]}``."""
    scaler = info["scaler"]
    return {"min": list(scaler["min"][:4]), "max": list(scaler["max"][:4])}
