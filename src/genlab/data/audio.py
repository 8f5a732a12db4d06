"""Music samples as files: MIDI, and WAV audio rendered with FluidSynth.

`write_song(samples, path, info)` writes the ``sequences`` (N x T x D
features in original units, as models trained on ``midi:PATH`` or
``chorales`` sample them, read as note events by
`genlab.data.music_features.events_from_features`) one after another, half a second apart, as one
piece: ``.mid``/``.midi`` as a one-track MIDI file (the data's General MIDI
program), ``.wav`` rendered through pretty_midi's FluidSynth hook
(pyfluidsynth and Debian's ``fluidsynth`` library) with a General MIDI
SoundFont: ``$GENLAB_SOUNDFONT``, else Debian's ``fluid-soundfont-gm``
(``/usr/share/sounds/sf2/FluidR3_GM.sf2``). Audio is mono, 16-bit,
`SAMPLE_RATE` Hz, peak-normalised. Nothing is downloaded.
"""

from __future__ import annotations

import base64

import os
import tempfile
import wave
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GenlabError
from ..io import register_song_writer
from .midi import notes_from_events, to_pretty_midi, write_midi
from .music_features import events_from_features

SAMPLE_RATE = 22050
#: silence between two sampled sequences in a written piece (seconds)
PAUSE = 0.5
SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2")


def soundfont() -> Path:
    """The General MIDI SoundFont to render with ($GENLAB_SOUNDFONT or Debian's fluid-soundfont-gm)."""
    given = os.environ.get("GENLAB_SOUNDFONT")
    if given:
        if not Path(given).is_file():
            raise GenlabError(f"GENLAB_SOUNDFONT={given} is not a file; point it at a .sf2 SoundFont or unset it")
        return Path(given)
    found = next((Path(p) for p in SOUNDFONTS if Path(p).is_file()), None)
    if found is None:
        raise GenlabError("no General MIDI SoundFont to render audio with; apt-get install fluid-soundfont-gm "
                          "(or set GENLAB_SOUNDFONT to a .sf2 file)")
    return found


def piece_events(sequences: Any) -> np.ndarray:
    """N x T x 4 event sequences -> one K x 4 piece, each sequence starting `PAUSE` s after the last ended."""
    seqs = np.asarray(sequences, dtype=np.float64)
    parts, offset = [], 0.0
    for seq in seqs:
        notes = notes_from_events(seq)
        notes[:, :2] += offset - notes[0, 0] if len(notes) else 0.0
        parts.append(notes)
        offset = (notes[:, 1].max() if len(notes) else offset) + PAUSE
    notes = np.concatenate(parts) if parts else np.zeros((0, 4))
    starts = notes[:, 0]
    return np.stack([notes[:, 2], notes[:, 1] - starts, np.diff(starts, prepend=0.0), notes[:, 3]], 1)


def render_wav(events: np.ndarray, path: str | Path, program: int = 0, rate: int = SAMPLE_RATE) -> Path:
    """Render a piece of events to a mono 16-bit WAV file with FluidSynth."""
    font = soundfont()
    midi = to_pretty_midi(events, program)
    try:
        audio = midi.fluidsynth(fs=rate, synthesizer=str(font))
    except (ImportError, OSError, ValueError) as exc:
        raise GenlabError(f"cannot render audio with FluidSynth ({str(exc).splitlines()[0][:100]}); "
                          f"pip install 'genlab[music]' and apt-get install fluidsynth") from None
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    pcm = (audio / peak * 0.9 * 32767 if peak > 0 else audio).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm.tobytes())
    return Path(path)


def write_song(samples: dict[str, Any], path: str | Path, suffix: str, info: dict[str, Any] | None) -> Path:
    """Write sampled note events as MIDI or WAV (by `suffix`), one sequence after another."""
    music = (info or {}).get("music")
    if "sequences" not in samples or not music:
        raise GenlabError(f"{suffix} files hold music, and this model was not trained on music "
                          f"(midi:PATH or chorales); write samples.csv or samples.npz instead")
    events = piece_events(events_from_features(samples["sequences"], info))
    program = int(music.get("program", 0))
    if suffix == ".wav":
        return render_wav(events, path, program)
    return write_midi(events, path, program)


#: sequences the web page plays at most (the first of a batch)
PAGE_SEQUENCES = 4


def wav_data_url(sequences: Any, info: dict[str, Any]) -> str:
    """The first `PAGE_SEQUENCES` sampled sequences rendered as a WAV data URL (for the web page's player)."""

    with tempfile.TemporaryDirectory(prefix="genlab-audio-") as tmp:
        path = Path(tmp) / "song.wav"
        write_song({"sequences": np.asarray(sequences)[:PAGE_SEQUENCES]}, path, ".wav", info)
        return "data:audio/wav;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


register_song_writer(write_song)
