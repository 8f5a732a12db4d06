"""Music: MIDI round trips, the midi:PATH and chorales datasets, bad MIDI input, Mogren's
statistics, and rgan/seqvae trained for 20 real steps on the chorales, sampled to MIDI and WAV."""

from __future__ import annotations

import math
import wave

import numpy as np
import pytest
import torch

import genlab
from genlab.cli import main
from genlab.data import load_dataset
from genlab.data.midi import events_from_notes, notes_from_events, read_notes, write_midi
from genlab.data.keys import key_of, key_shift
from genlab.data.music_features import encode_events, events_from_features, feature_names
from genlab.data.sequences import reload_source
from genlab.errors import DataError, GenlabError
from genlab.metrics.music import music_scores, music_statistics, random_notes, sequence_statistics
from genlab.nn.onehot import activate, draw, log_likelihood

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


D_MAJOR = [62, 64, 66, 67, 69, 71, 73, 74, 73, 71, 69, 67, 66, 64, 62, 69, 66, 62, 74, 69]
A_MINOR_FROM_E = [64, 66, 67, 69, 71, 72, 75, 76, 75, 72, 71, 69, 67, 66, 64, 71, 67, 64, 76, 71]  # E minor


def test_pieces_are_moved_to_c_major_or_a_minor(tmp_path, capsys):
    assert key_of(np.array([[p, 0.5, 0.5, 80] for p in D_MAJOR * 3], float)) == (2, "major")
    assert key_shift(np.array([[p, 0.5, 0.5, 80] for p in D_MAJOR * 3], float)) == -2
    assert key_shift(np.array([[p, 0.5, 0.5, 80] for p in A_MINOR_FROM_E * 3], float)) == 5  # E minor -> A minor
    folder = tmp_path / "songs"
    folder.mkdir()
    write_piece(folder / "d.mid", D_MAJOR * 3)
    moved = load_dataset(f"midi:{folder}", seq_len=8)
    kept = load_dataset(f"midi:{folder}", seq_len=8, transpose=False)
    assert moved.info["music"]["transposed"] and not kept.info["music"]["transposed"]
    a = events_from_features(moved.inverse_transform(moved.tensors["x"]).numpy(), moved.info)
    b = events_from_features(kept.inverse_transform(kept.tensors["x"]).numpy(), kept.info)
    np.testing.assert_array_equal(a[..., 0], b[..., 0] - 2)  # two semitones down, nothing else changed
    np.testing.assert_array_equal(a[..., 1:], b[..., 1:])
    assert set((a[..., 0] % 12).astype(int).ravel()) <= {0, 2, 4, 5, 7, 9, 11}
    # the command line: --no-transpose keeps the key, and it is saved with the run
    code = main(["train", "rgan", "--data", f"midi:{folder}", "--seq-len", "8", "--no-transpose", "--steps", "1",
                 "--batch-size", "4", "--hidden", "4", "--d-hidden", "4", "--out", str(tmp_path / "run")])
    assert code == 0 and genlab.load(tmp_path / "run").data_info["source"]["transpose"] is False


def test_pitch_class_columns_decode_exactly():
    features = encode_events(EVENTS, pitch_classes=True)
    assert features.shape == (7, 16) and feature_names(True)[4:6] == ["pc_C", "pc_C#"]
    info = {"music": {"pitch_classes": [4, 12]}}
    np.testing.assert_array_equal(events_from_features(features, info), EVENTS)
    # a generated pitch value off the grid takes the one-hot's class in its own octave
    off = features[:3].copy()
    off[:, 0] = [61.4, 58.6, 66.2]
    np.testing.assert_array_equal(events_from_features(off, info)[:, 0], [60, 64, 67])
    assert events_from_features(off, {"music": {}})[:, 0].tolist() == [61.4, 58.6, 66.2]  # no group: pitch as given


def test_one_hot_outputs():
    groups = [(1, 3)]
    logits = torch.tensor([[[0.0, 2.0, 1.0, -1.0, 0.5]]], requires_grad=True)
    out = activate(logits, groups)
    assert out[0, 0, 1:4].tolist() == [1.0, 0.0, 0.0] and float(out[0, 0, 0].detach()) == pytest.approx(0.5)
    out[0, 0, 2].backward()  # the straight-through gradient reaches the other categories' logits
    assert logits.grad[0, 0, 1:4].abs().sum() > 0
    x = torch.tensor([[[0.5, 0.0, 1.0, 0.0, 0.5]]])
    ll = log_likelihood(logits.detach(), x, torch.zeros(5), groups)
    gauss = -0.5 * ((x[..., [0, 4]] - torch.sigmoid(logits.detach()[..., [0, 4]])) ** 2 + math.log(2 * math.pi)).sum()
    assert float(ll) == pytest.approx(float(gauss + torch.log_softmax(logits.detach()[0, 0, 1:4], -1)[1]))
    assert draw(logits.detach(), groups)[0, 0, 1:4].tolist() == [1.0, 0.0, 0.0]  # no noise: the likeliest
    drawn = [draw(logits.detach(), groups, torch.tensor([[u]]))[0, 0, 1:4].argmax().item() for u in (0.1, 0.8, 0.99)]
    assert drawn == [0, 1, 2]  # inverse CDF of softmax(2, 1, -1) = (0.71, 0.26, 0.04)


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
    # moved to C major / A minor: nine notes in ten are on white keys
    assert np.isin(events[..., 0] % 12, [0, 2, 4, 5, 7, 9, 11]).mean() > 0.9
    # a run saved before keys and pitch classes reloads its data as it was trained
    old = reload_source({"source": {"loader": "chorales", "seed": 0, "seq_len": 32, "stride": 8}}, "test")
    assert old.tensors["x"].shape == (len(test), 32, 4) and not old.info["music"]["transposed"]


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
