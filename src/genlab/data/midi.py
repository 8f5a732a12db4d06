"""Music as note events: reading and writing MIDI, and the ``midi:PATH`` dataset.

A piece is a list of notes (start and end in seconds, MIDI pitch, velocity)
and, for the sequence families, a sequence of *note events* as in C-RNN-GAN
(Mogren 2016): ``pitch`` (MIDI number), ``duration`` (seconds), ``gap``
(seconds since the previous note started; 0 for notes of one chord, the
first note's start for the first) and ``velocity`` (1..127). Notes are
ordered by start, then pitch, so a chord reads from its lowest note up.

- `read_notes(path)` parses a MIDI file with pretty_midi (every instrument but
  drums, merged); a file that is not MIDI is a one-line `DataError`.
- `events_from_notes` / `notes_from_events` convert between the two forms
  (exact inverses up to the rounding of pitch and velocity to integers);
  `write_midi(events, path)` writes events as a one-track MIDI file.
- ``midi:PATH`` (a .mid file or a folder searched recursively for .mid and
  .midi files) cuts each piece into windows of ``seq_len`` events (stride
  ``stride``, default ``seq_len // 4``). Durations and gaps are clipped to
  `MAX_SECONDS`. By default (``transpose``) each piece is first moved to C
  major or A minor by music21's key analysis (`genlab.data.keys`), so that a
  key means the same pitch classes in every piece, and (``pitch_classes``)
  the pitch class is added as 12 one-hot columns after the four event
  features, which the sequence families emit as a categorical output
  (`genlab.data.music_features`); both are options of the loader
  (``--no-transpose`` on the command line). Every feature is min-max scaled
  to [0, 1] over all pieces
  (the scaler is saved in the data's info, as for ``csv:PATH``). With 10 or
  more pieces, a fixed-seed 10% of the pieces is the test split; with fewer,
  each piece's last 10% of events. Unreadable files among readable ones are
  skipped with a note on stderr (refused with ``--strict-data``).

The data is ordinary sequence data (``kind: sequence``), so ``rgan`` and
``seqvae`` train on it unchanged; its ``info["music"]`` marks it as music, which
lets ``genlab sample --out song.mid|song.wav`` and ``genlab eval`` treat
samples as notes (`genlab.data.audio`, `genlab.metrics.music`).
"""

from __future__ import annotations

from ..extras import require

import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import DataError
from ..registry import DATASETS
from .keys import key_shift
from .keys import transpose as transpose_events
from .music_features import EVENT_FEATURES, encode_events, feature_names
from .sequences import SequenceData, _check_split, _make_sequence_data

FEATURES = EVENT_FEATURES
#: durations and gaps are clipped to this many seconds before scaling
MAX_SECONDS = 4.0
#: the shortest note written to MIDI (seconds)
MIN_DURATION = 0.02
MIDI_SUFFIXES = (".mid", ".midi")
TEST_FRACTION = 0.1


def pretty_midi_module():
    """pretty_midi, or a one-line error naming the extra that installs it."""

    return require("music", "reading and writing MIDI")[0]


# ---------------------------------------------------------------------------
# notes <-> events


def read_notes(path: str | Path) -> np.ndarray:
    """The notes of a MIDI file as K x 4 float64 (start, end, pitch, velocity), sorted by start then pitch."""
    pm = pretty_midi_module()
    p = Path(path)
    try:
        midi = pm.PrettyMIDI(str(p))
    except Exception as exc:  # noqa: BLE001 - mido/pretty_midi raise many kinds for a bad file
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:100] or type(exc).__name__
        raise DataError(f"{p} is not a readable MIDI file ({reason}); remove it or pass a folder of .mid files") \
            from None
    rows = [(n.start, n.end, n.pitch, n.velocity) for inst in midi.instruments if not inst.is_drum
            for n in inst.notes]
    notes = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    return notes[np.lexsort((notes[:, 2], notes[:, 0]))]


def events_from_notes(notes: np.ndarray) -> np.ndarray:
    """Notes (start, end, pitch, velocity) -> events (pitch, duration, gap, velocity), K x 4."""
    notes = np.asarray(notes, dtype=np.float64).reshape(-1, 4)
    start = notes[:, 0]
    gap = np.diff(start, prepend=0.0)
    return np.stack([notes[:, 2], notes[:, 1] - start, gap, notes[:, 3]], 1)


def notes_from_events(events: np.ndarray) -> np.ndarray:
    """Events (pitch, duration, gap, velocity) in original units -> playable notes, K x 4.

    Pitch and velocity are rounded and clipped to MIDI's ranges, negative gaps
    count as 0 and durations are at least `MIN_DURATION`."""
    ev = np.asarray(events, dtype=np.float64).reshape(-1, 4)
    ev = np.where(np.isfinite(ev), ev, 0.0)
    start = np.cumsum(np.maximum(ev[:, 2], 0.0))
    end = start + np.maximum(ev[:, 1], MIN_DURATION)
    pitch = np.clip(np.rint(ev[:, 0]), 0, 127)
    velocity = np.clip(np.rint(ev[:, 3]), 1, 127)
    return np.stack([start, end, pitch, velocity], 1)


def to_pretty_midi(events: np.ndarray, program: int = 0):
    """One piece of events (original units) as a one-track `pretty_midi.PrettyMIDI` (General MIDI `program`)."""
    pm = pretty_midi_module()
    midi = pm.PrettyMIDI(resolution=960, initial_tempo=120.0)
    inst = pm.Instrument(program=int(program))
    for start, end, pitch, velocity in notes_from_events(events):
        inst.notes.append(pm.Note(velocity=int(velocity), pitch=int(pitch), start=float(start), end=float(end)))
    midi.instruments.append(inst)
    return midi


def write_midi(events: np.ndarray, path: str | Path, program: int = 0) -> Path:
    """Write one piece of events (original units) as a one-track MIDI file."""
    to_pretty_midi(events, program).write(str(path))
    return Path(path)


# ---------------------------------------------------------------------------
# pieces -> windows


def clip_events(events: np.ndarray) -> np.ndarray:
    ev = np.array(events, dtype=np.float64).reshape(-1, 4)
    ev[:, 1:3] = np.clip(ev[:, 1:3], 0.0, MAX_SECONDS)
    return ev


def piece_windows(pieces: Sequence[np.ndarray], seq_len: int, stride: int) -> np.ndarray:
    """Windows of `seq_len` consecutive rows of each piece (every `stride` rows): W x seq_len x D."""
    out = [p[i:i + seq_len] for p in pieces for i in range(0, len(p) - seq_len + 1, stride)]
    return np.stack(out) if out else np.empty((0, seq_len, pieces[0].shape[1] if len(pieces) else 4))


def split_pieces(pieces: list[np.ndarray], split: str, seed: int = 0) -> list[np.ndarray]:
    """A fixed-seed 10% of pieces for test (10 or more pieces), else each piece's last 10% of events."""
    if len(pieces) >= 10:
        perm = np.random.default_rng(seed).permutation(len(pieces))
        n_test = max(1, int(round(TEST_FRACTION * len(pieces))))
        chosen = np.sort(perm[:n_test] if split == "test" else perm[n_test:])
        return [pieces[i] for i in chosen]
    cuts = [len(p) - max(1, int(round(TEST_FRACTION * len(p)))) for p in pieces]
    return [p[c:] if split == "test" else p[:c] for p, c in zip(pieces, cuts)]


def music_data(name: str, pieces: list[np.ndarray], split: str, seq_len: int, stride: int | None,
               source: dict[str, Any], program: int = 0, seed: int = 0, transpose: bool = True,
               pitch_classes: bool = True, shifts: Sequence[int] | None = None) -> SequenceData:
    """Sequence data of event windows from whole pieces (events in original units).

    `transpose` moves each piece to C major / A minor (by `shifts`, or music21's
    key analysis); `pitch_classes` adds the pitch-class one-hot (`genlab.data.music_features`)."""
    _check_split(split, name.partition(":")[0])
    if seq_len < 2:
        raise DataError(f"--seq-len {seq_len} is too short for music; use 2 or more events (default 32)")
    stride = int(stride or max(1, seq_len // 4))
    kept = [i for i, p in enumerate(pieces) if len(p)]
    pieces = [clip_events(pieces[i]) for i in kept]
    if not pieces:
        raise DataError(f"{name} holds no notes; pass MIDI files with notes on non-drum tracks")
    if transpose:
        moves = [shifts[i] for i in kept] if shifts is not None else [key_shift(p) for p in pieces]
        pieces = [transpose_events(p, int(k)) for p, k in zip(pieces, moves)]
    pieces = [encode_events(p, pitch_classes) for p in pieces]
    everything = np.concatenate(pieces)
    lo, hi = everything.min(0), everything.max(0)
    windows = piece_windows(split_pieces(pieces, split, seed), seq_len, stride)
    if len(windows) == 0:
        raise DataError(f"{name} has no {split} window of {seq_len} notes (its pieces are too short); "
                        f"use a shorter --seq-len or more music")
    span = np.where(hi > lo, hi - lo, 1.0)
    columns = feature_names(pitch_classes)
    info = {"split": split, "columns": columns,
            "scaler": {"min": lo.tolist(), "max": hi.tolist(), "columns": columns},
            "music": {"features": columns, "max_seconds": MAX_SECONDS, "program": int(program),
                      "pieces": len(pieces), "transposed": bool(transpose),
                      "pitch_classes": [len(FEATURES), 12] if pitch_classes else None},
            "source": {**source, "seq_len": seq_len, "stride": stride, "transpose": bool(transpose),
                       "pitch_classes": bool(pitch_classes)}}
    if pitch_classes:
        info["one_hot"] = [[len(FEATURES), 12]]
    return _make_sequence_data(name, (windows - lo) / span, info)


def midi_files(path: str | Path) -> list[Path]:
    p = Path(path).expanduser()
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise DataError(f"MIDI path {str(p)!r} not found; pass midi:PATH with a .mid file or a folder of them")
    files = sorted(f for f in p.rglob("*") if f.suffix.lower() in MIDI_SUFFIXES and f.is_file())
    if not files:
        raise DataError(f"{p} holds no .mid or .midi files; pass midi:PATH with a folder of MIDI files")
    return files


def read_pieces(files: list[Path], strict: bool = False) -> list[np.ndarray]:
    """Events of each readable file; unreadable ones are skipped with a note (an error when `strict` or none is left)."""
    pieces, bad = [], []
    for f in files:
        try:
            pieces.append(events_from_notes(read_notes(f)))
        except DataError as exc:
            if strict or len(files) == 1:
                raise
            bad.append(str(exc))
    if bad and not pieces:
        raise DataError(f"none of the {len(files)} MIDI files could be read (first: {bad[0]})")
    if bad:
        print(f"genlab: skipped {len(bad)} unreadable MIDI file(s) of {len(files)} (first: {bad[0]})",
              file=sys.stderr)
    return pieces


@DATASETS.register("midi")
def midi(path: str = "", root: str | None = None, split: str = "train", image_size: int | None = None,
         seq_len: int = 32, stride: int | None = None, strict: bool = False, seed: int = 0,
         transpose: bool = True, pitch_classes: bool = True) -> SequenceData:
    """Note-event windows from a MIDI file or a folder of them."""
    _check_split(split, "midi")
    if not path:
        raise DataError("midi dataset needs a path: use midi:PATH (a .mid file or a folder of them)")
    files = midi_files(path)
    pieces = read_pieces(files, strict)
    source = {"loader": "midi", "path": str(Path(path).expanduser().resolve()), "seed": seed}
    return music_data(f"midi:{path}", pieces, split, seq_len, stride, source, seed=seed, transpose=transpose,
                      pitch_classes=pitch_classes)
