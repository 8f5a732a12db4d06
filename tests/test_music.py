"""Music: MIDI round trips, the midi:PATH and chorales datasets, bad MIDI input, Mogren's
statistics, and rgan/seqvae trained for 20 real steps on the chorales, sampled to MIDI and WAV."""

from __future__ import annotations

import wave

import numpy as np
import pytest

import genlab
from genlab.cli import main
from genlab.data import load_dataset
from genlab.data.midi import events_from_notes, notes_from_events, read_notes, write_midi
from genlab.data.music_features import events_from_features
from genlab.errors import DataError, GenlabError
from genlab.metrics.music import music_scores, music_statistics, random_notes, sequence_statistics

from .conftest import need_system
from .family_checks import train_small

pretty_midi = pytest.importorskip("pretty_midi")

#: a C major chord, a rest, then a small tune (pitch, duration s, gap s, velocity)
EVENTS = np.array([[60, 1.0, 0.0, 90], [64, 1.0, 0.0, 80], [67, 1.0, 0.0, 70],
                   [62, 0.25, 1.5, 100], [65, 0.5, 0.25, 64], [71, 0.125, 0.5, 30], [72, 2.0, 0.125, 127]],
                  dtype=np.float64)


def write_piece(path, pitches, step=0.5, program=0, drums=False):
    """A MIDI file of one note per `step` seconds (and a drum track that must be ignored)."""
    midi = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=program)
    for i, p in enumerate(pitches):
        inst.notes.append(pretty_midi.Note(velocity=80, pitch=int(p), start=i * step, end=i * step + step * 0.9))
    midi.instruments.append(inst)
    if drums:
        kit = pretty_midi.Instrument(program=0, is_drum=True)
        kit.notes.append(pretty_midi.Note(velocity=100, pitch=36, start=0.0, end=0.1))
        midi.instruments.append(kit)
    midi.write(str(path))
    return path


def test_written_midi_parses_back_to_the_same_notes(tmp_path):
    path = write_midi(EVENTS, tmp_path / "tune.mid")
    notes = read_notes(path)
    expected = notes_from_events(EVENTS)
    assert notes.shape == expected.shape == (7, 4)
    np.testing.assert_array_equal(notes[:, 2:], expected[:, 2:])  # pitch and velocity exactly
    np.testing.assert_allclose(notes[:, :2], expected[:, :2], atol=1e-3)  # times to the tick
    np.testing.assert_allclose(events_from_notes(notes), EVENTS, atol=1e-3)
    assert notes[0, 0] == 0 and notes[3, 0] == pytest.approx(1.5)  # the chord, then the note after the rest


def test_notes_from_events_makes_playable_notes():
    notes = notes_from_events([[60.4, -1.0, -2.0, 300], [200, 0.5, 1.0, 0]])
    assert notes[:, 2].tolist() == [60, 127] and notes[:, 3].tolist() == [127, 1]
    assert notes[0, 0] == 0 and notes[0, 1] - notes[0, 0] > 0 and notes[1, 0] == 1.0


def test_midi_dataset_parsing(tmp_path, capsys):
    folder = tmp_path / "songs"
    (folder / "sub").mkdir(parents=True)
    write_piece(folder / "a.mid", [50 + i % 40 for i in range(100)], drums=True)
    write_piece(folder / "sub" / "b.MIDI", [48, 52, 55] * 10, step=0.25)
    (folder / "notes.txt").write_text("not music")
    train = load_dataset(f"midi:{folder}", seq_len=8, transpose=False, pitch_classes=False)
    test = load_dataset(f"midi:{folder}", seq_len=8, split="test", transpose=False, pitch_classes=False)
    info = train.info
    assert info["kind"] == "sequence" and info["columns"] == ["pitch", "duration", "gap", "velocity"]
    assert info["music"]["pieces"] == 2 and info["seq_len"] == 8 and info["source"]["stride"] == 2
    x = train.tensors["x"]
    assert x.min() >= 0 and x.max() <= 1
    assert info["scaler"]["min"][0] == 48 and info["scaler"]["max"][0] == 89  # drums (pitch 36) ignored
    # fewer than 10 pieces: train holds each piece's first 90% of events, test the rest
    assert len(train) == (90 - 8) // 2 + 1 + (27 - 8) // 2 + 1 and len(test) == (10 - 8) // 2 + 1
    first = train.inverse_transform(x[0]).numpy()
    np.testing.assert_allclose(first[:, 0], range(50, 58), atol=1e-4)
    np.testing.assert_allclose(first[1:, 2], 0.5, atol=1e-4)  # one note every half second
    np.testing.assert_allclose(first[:, 1], 0.45, atol=1e-4)
    assert test.inverse_transform(test.tensors["x"][0])[0, 0] == pytest.approx(60)  # a.mid's 91st note
    assert "skipped" not in capsys.readouterr().err  # .txt files are not read at all


def test_corrupt_midi_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06garbage that is not a MIDI file")
    with pytest.raises(DataError, match=r"bad\.mid is not a readable MIDI file"):
        read_notes(bad)
    code = main(["train", "rgan", "--data", f"midi:{bad}", "--steps", "1", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "bad.mid is not a readable MIDI file" in err
    assert not (tmp_path / "run").exists()
    # among readable files a corrupt one is skipped with a note; --strict-data refuses it
    write_piece(tmp_path / "good.mid", list(range(50, 90)))
    data = load_dataset(f"midi:{tmp_path}", seq_len=8)
    assert data.info["music"]["pieces"] == 1
    assert "skipped 1 unreadable MIDI file(s) of 2" in capsys.readouterr().err
    with pytest.raises(DataError, match="bad.mid"):
        load_dataset(f"midi:{tmp_path}", seq_len=8, strict=True)


@pytest.mark.parametrize("spec, needle", [("midi:/no/such/songs", "MIDI path '/no/such/songs' not found"),
                                          ("midi:EMPTY", "holds no .mid or .midi files")])
def test_missing_midi_is_one_line(tmp_path, capsys, spec, needle):
    spec = spec.replace("EMPTY", str(tmp_path))
    code = main(["train", "seqvae", "--data", spec, "--steps", "1", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and needle in err


def test_mogren_statistics_by_hand():
    # a C major triad then C D E: polyphony 2 of 5 notes, all in C major, span 12
    seq = np.array([[60, 1, 0, 80], [64, 1, 0, 80], [67, 1, 0, 80], [62, 1, 1, 80], [72, 1, 1, 80]], float)
    s = sequence_statistics(seq)
    assert s["polyphony"] == pytest.approx(2 / 4) and s["scale_consistency"] == 1.0 and s["tone_span"] == 12
    assert s["repetitions"] == 0
    loop = np.array([[p, 0.5, 0.5, 80] for p in [60, 61, 62] * 4], float)  # the same 3 notes four times
    s = sequence_statistics(loop)
    assert s["repetitions"] == pytest.approx(7 / 10) and s["polyphony"] == 0
    assert s["scale_consistency"] == pytest.approx(2 / 3)  # no major scale holds three semitones in a row
    rand = random_notes(200, 16, [40, 0.1, 0.0, 1], [80, 1.0, 1.0, 127], seed=1)
    assert rand[..., 0].min() >= 40 and rand[..., 0].max() <= 80 and np.all(rand[..., 0] == np.round(rand[..., 0]))
    stats = music_statistics(rand)
    assert stats["tone_span"] > 30 and stats["polyphony"] < 0.1
    chords = np.array([[p, 1, 0 if p != 60 else 1, 80] for p in [60, 64, 67] * 4], float)  # C major 4 times
    scaler = {"scaler": {"min": [40, 0.1, 0, 1], "max": [80, 1, 1, 127]}}
    scores = music_scores(np.stack([chords] * 4), np.stack([chords] * 4), scaler)
    assert scores["mogren_polyphony_real"] == pytest.approx(8 / 11) and scores["mogren_tone_span_real"] == 7
    assert scores["mogren_repetitions"] == pytest.approx(7 / 10) and scores["mogren_closer_than_random"] == 4
    same = music_scores(np.stack([chords] * 4), random_notes(4, 12, [40, 0.1, 0, 1], [80, 1, 1, 127], 0), scaler)
    assert same["mogren_closer_than_random"] == 0  # the baseline itself is not closer than the baseline


@pytest.fixture(scope="module")
def chorales_data():
    pytest.importorskip("music21")
    return load_dataset("chorales"), load_dataset("chorales", split="test")


def test_chorales_dataset(chorales_data):
    train, test = chorales_data
    assert train.info["music"]["pieces"] == 371 and train.info["scaler"] == test.info["scaler"]
    assert train.tensors["x"].shape[1:] == (32, 16) and len(train) > 5000 and len(test) > 500
    x = train.inverse_transform(train.tensors["x"][:200]).numpy()
    events = events_from_features(x, train.info)
    np.testing.assert_array_equal(events, x[..., :4])  # real data decode to exactly their notes
    assert np.all(events[..., 0] == np.round(events[..., 0])) and 30 < events[..., 0].min() < events[..., 0].max() < 95
    assert np.all(events[..., 3] == 80)
    # four voices: most notes start with the one before them
    assert music_statistics(events)["polyphony"] > 0.5


@pytest.mark.parametrize("family", ["rgan", "seqvae"])
def test_train_on_chorales_then_write_midi_and_wav(tmp_path, chorales_data, family):
    need_system(__import__("pathlib").Path("/usr/share/sounds/sf2/FluidR3_GM.sf2").is_file(), "fluid-soundfont-gm")
    run = tmp_path / family
    result = train_small(family, run, data="chorales", steps=20, limit=None)
    assert result.step == 20
    model = genlab.load(run)
    assert model.data_info["music"]["program"] == 52
    code = main(["sample", str(run), "--n", "3", "--seed", "5", "--out", str(tmp_path / "song.mid")])
    assert code == 0
    x = model.sample(3, seed=5)["sequences"].numpy()
    assert x.shape == (3, 32, 16) and set(np.unique(x[..., 4:])) <= {0.0, 1.0}  # pitch classes are one-hots
    np.testing.assert_array_equal(x[..., 4:].sum(-1), 1.0)
    events = events_from_features(x, model.data_info)
    np.testing.assert_array_equal(np.rint(events[..., 0]) % 12, x[..., 4:].argmax(-1))  # the class sounds
    assert np.all(np.abs(events[..., 0] - x[..., 0]) <= 6)  # in the octave of the continuous pitch
    notes = read_notes(tmp_path / "song.mid")
    assert len(notes) == 3 * 32
    np.testing.assert_array_equal(np.sort(notes[:, 2]), np.sort(np.clip(events[..., 0], 0, 127).reshape(-1)))
    assert main(["sample", str(run), "--n", "2", "--out", str(tmp_path / "song.wav")]) == 0
    with wave.open(str(tmp_path / "song.wav")) as w:
        assert w.getnchannels() == 1 and w.getframerate() == 22050 and w.getnframes() > 22050
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert np.abs(pcm).max() > 10000  # sound, not silence
    from genlab.serve.session import ModelSession

    page = ModelSession(model).generate(seed=0, n=2)  # the web page gets a plot and a WAV to play
    assert page["image"].startswith("data:image/png") and page["audio"].startswith("data:audio/wav;base64,")
    _, test = chorales_data
    scores = model.evaluate(test.subset(64), n=64, disc_steps=20, pred_steps=20)
    for k in ("discriminative", "mogren_polyphony", "mogren_tone_span_random", "mogren_closer_than_random"):
        assert np.isfinite(scores[k]), k


def test_music_files_refused_for_other_models(tmp_path, capsys):
    run = tmp_path / "sines"
    train_small("rgan", run, data="sines", steps=2, hidden=8, d_hidden=8)
    code = main(["sample", str(run), "--n", "2", "--out", str(tmp_path / "x.mid")])
    err = capsys.readouterr().err
    assert code == 2 and "not trained on music" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.mid").exists()
    with pytest.raises(GenlabError, match="not trained on music"):
        genlab.save_samples(genlab.load(run).sample(2), tmp_path / "x.wav", genlab.load(run))
