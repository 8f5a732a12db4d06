"""Sequence datasets: sines, CSV windows and scaler, words; plus the shared sequence-family check.

`check_sequence_family` is the sequence counterpart of
`tests/family_checks.check_family` (which expects images): real training
steps through the public API, finite changing losses, sample shapes and
ranges, and save -> load -> sample giving identical output for one seed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import genlab
from genlab.data import load_dataset
from genlab.data.sequences import decode_tokens, inverse_transform, sliding_windows, transform
from genlab.errors import DataError

from .conftest import require_words
from .datafiles import stocks_csv
from .family_checks import read_metrics, train_small

def stocks_spec() -> str:
    """csv: spec of the stock prices (../shared/data, or a file of the same format; see tests/datafiles.py)."""
    return f"csv:{stocks_csv()}"


def check_sequence_family(family: str, tmp_path: Path, data: str, steps: int = 6, **options: Any):
    """Train a few steps, check losses, samples and the save/load round trip; return the loaded model."""
    run_dir = tmp_path / family
    result = train_small(family, run_dir, data=data, steps=steps, **options)
    assert result.step == steps and not result.interrupted
    rows = read_metrics(run_dir)
    assert len(rows) == steps
    keys = [k for k in rows[0] if k not in ("step", "time", "images_per_s", "kl_weight")]
    assert keys
    for k in keys:
        values = [r[k] for r in rows]
        assert all(math.isfinite(v) for v in values), f"{k} not finite: {values}"
        assert max(values) - min(values) > 1e-7, f"{k} never changed: {values}"

    model = genlab.load(run_dir)
    info = model.data_info
    saved = json.loads(next((run_dir / "checkpoints").iterdir()).joinpath("config.json").read_text())
    out = model.sample(8, seed=123)
    if info["kind"] == "tokens":
        assert saved["data"]["vocab"] == info["vocab"]
        tokens, lengths = out["tokens"], out["lengths"]
        assert tokens.dtype == torch.long and tokens.shape == (8, info["max_len"] + 1)
        assert int(tokens.min()) >= 0 and int(tokens.max()) < len(info["vocab"])
        texts = model.decode_text(tokens)
        assert [len(t) for t in texts] == lengths.tolist()
        assert all(1 <= len(t) <= info["max_len"] for t in texts)
        key = "tokens"
    else:
        assert saved["data"]["scaler"] == info["scaler"]  # the scaler travels in config.json
        seqs = out["sequences"]
        assert seqs.dtype == torch.float32 and seqs.shape == (8, info["seq_len"], info["dim"])
        assert torch.isfinite(seqs).all()
        lo = torch.tensor(info["scaler"]["min"])
        hi = torch.tensor(info["scaler"]["max"])
        span = hi - lo
        assert (seqs >= lo - 1e-4 * span).all() and (seqs <= hi + 1e-4 * span).all()
        scaled = model.sample(8, seed=123, scaled=True)["sequences"]
        assert scaled.min() >= 0 and scaled.max() <= 1
        torch.testing.assert_close(inverse_transform(scaled, info), seqs)
        key = "sequences"
    again = genlab.load(run_dir).sample(8, seed=123)[key]
    assert torch.equal(out[key], again)
    model.save_pretrained(tmp_path / "pretrained")
    reloaded = type(model).from_pretrained(tmp_path / "pretrained")
    assert torch.equal(reloaded.sample(8, seed=123)[key], out[key])
    assert not torch.equal(model.sample(8, seed=124)[key], out[key])
    # the Trainer wrote the final preview (a rendered plot) like an image grid
    from PIL import Image

    (png,) = (run_dir / "samples").iterdir()
    assert png.name.endswith(f"-step{steps:07d}.png")
    with Image.open(png) as im:
        assert im.mode == "RGB" and im.width > 200 and im.height > 100
    return model


# ---------------------------------------------------------------------------
# sines


def test_sines_shape_range_and_determinism():
    train, test = load_dataset("sines"), load_dataset("sines", split="test")
    assert train.tensors["x"].shape == (9000, 24, 5) and test.tensors["x"].shape == (1000, 24, 5)
    assert train.info["kind"] == "sequence" and train.info["shape"] == [24, 5]
    x = train.tensors["x"]
    assert x.min() >= 0 and x.max() <= 1
    assert torch.equal(load_dataset("sines").tensors["x"], x)  # fixed seed
    # each feature is a sine: its second difference is 2 (cos f - 1) times the centred value
    s = x[:50].double() * 2 - 1
    d2 = s[:, 2:] - 2 * s[:, 1:-1] + s[:, :-2]
    k = (d2 * s[:, 1:-1]).sum(1, keepdim=True) / s[:, 1:-1].pow(2).sum(1, keepdim=True)
    assert (d2 - k * s[:, 1:-1]).abs().max() < 1e-5
    freq = torch.arccos(1 + k / 2)
    assert freq.min() >= 0 and freq.max() <= 0.1 + 1e-3


def test_sines_options_and_classes():
    d = load_dataset("sines", n=100, seq_len=10, dim=2, classes=3)
    assert d.tensors["x"].shape == (90, 10, 2)
    assert d.info["num_classes"] == 3 and set(d.tensors["y"].tolist()) == {0, 1, 2}
    with pytest.raises(DataError, match="valid splits"):
        load_dataset("sines", split="validation")


# ---------------------------------------------------------------------------
# CSV


def write_csv(path: Path, rows: list[list[Any]], header: list[str]) -> Path:
    path.write_text(",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def test_csv_orders_by_date_windows_and_scales(tmp_path):
    days = [f"2020-01-{d:02d}" for d in range(1, 31)]
    rows = [[day, 10 * i, 100 - i] for i, day in enumerate(days)]
    shuffled = [rows[i] for i in np.random.default_rng(0).permutation(len(rows))]
    path = write_csv(tmp_path / "s.csv", shuffled, ["Date", "a", "b"])
    train = load_dataset(f"csv:{path}", seq_len=5)
    test = load_dataset(f"csv:{path}", split="test", seq_len=3)
    assert train.info["columns"] == ["a", "b"] and train.info["date_column"] == "Date"
    # 27 training rows -> 23 windows of 5; 3 test rows -> 1 window of 3
    assert train.tensors["x"].shape == (23, 5, 2) and test.tensors["x"].shape == (1, 3, 2)
    orig = train.inverse_transform(train.tensors["x"])
    # oldest first: feature a rises by 10 per day, b falls by 1
    assert torch.allclose(orig[0, :, 0], torch.tensor([0.0, 10, 20, 30, 40]))
    assert torch.allclose(orig[0, :, 1], torch.tensor([100.0, 99, 98, 97, 96]))
    assert train.info["scaler"] == {"min": [0.0, 71.0], "max": [290.0, 100.0], "columns": ["a", "b"]}
    assert train.tensors["x"].min() >= 0 and train.tensors["x"].max() <= 1


def test_scaler_round_trip():
    info = {"scaler": {"min": [49.27, 7900.0, -3.0], "max": [1271.0, 82768100.0, -3.0], "columns": ["p", "v", "c"]}}
    x = torch.tensor([[[60.5, 10000.0, -3.0], [1200.25, 5e7, -3.0]]])
    torch.testing.assert_close(inverse_transform(transform(x, info), info), x, rtol=1e-6, atol=1e-3)
    u = torch.rand(4, 3, 3)
    torch.testing.assert_close(transform(inverse_transform(u, info), info)[..., :2], u[..., :2], rtol=1e-4, atol=1e-5)


def test_bad_csv_names_the_column(tmp_path):
    path = write_csv(tmp_path / "bad.csv", [[1, "x", 3], [2, "y", 4]] * 20, ["open", "ticker", "close"])
    with pytest.raises(DataError) as err:
        load_dataset(f"csv:{path}")
    msg = str(err.value)
    assert "'ticker'" in msg and "not numeric" in msg and "\n" not in msg
    with pytest.raises(DataError, match="not found"):
        load_dataset(f"csv:{tmp_path / 'missing.csv'}")
    short = write_csv(tmp_path / "short.csv", [[1, 2]] * 5, ["a", "b"])
    with pytest.raises(DataError, match="too few rows"):
        load_dataset(f"csv:{short}")


def test_stock_prices():
    spec = stocks_spec()
    train, test = load_dataset(spec), load_dataset(spec, split="test")
    assert train.info["columns"] == ["Open", "High", "Low", "Close", "Adj_Close", "Volume"]
    assert train.tensors["x"].shape[1:] == (24, 6) and test.tensors["x"].shape[1:] == (24, 6)
    assert len(train) + len(test) == 3685 - 2 * 23
    assert train.tensors["x"].min() >= 0 and train.tensors["x"].max() <= 1
    # the file is oldest first: the first window's prices are near the 2004 minimum
    assert train.inverse_transform(train.tensors["x"][:1])[0, 0, 0] < 60
    windows = sliding_windows(np.arange(10.0)[:, None], 4)
    assert windows.shape == (7, 4, 1) and windows[-1, :, 0].tolist() == [6, 7, 8, 9]


# ---------------------------------------------------------------------------
# words


def test_words_rule_vocab_and_split(tmp_path):
    path = tmp_path / "w.txt"
    path.write_text("apple\nApple\ndog's\ncafé\nbanana\n  cherry  \napple\nx\nsupercalifragilistic\n\n" +
                    "".join(f"w{chr(97 + i % 26)}{chr(97 + i // 26)}\n" for i in range(60)))
    train = load_dataset(f"words:{path}", max_len=8)
    test = load_dataset(f"words:{path}", split="test", max_len=8)
    everything = set(train.words()) | set(test.words())
    assert {"apple", "banana", "cherry", "x"} <= everything
    assert not everything & {"Apple", "dog's", "café", "supercalifragilistic"}
    assert not set(train.words()) & set(test.words())
    assert len(test) == round(0.1 * len(everything))
    info = train.info
    assert info["kind"] == "tokens" and info["vocab"][:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    x, lengths = train.tensors["x"], train.tensors["length"]
    assert x.shape[1] == 10 and (x[:, 0] == info["bos"]).all()
    assert torch.equal(x[torch.arange(len(x)), lengths - 1], torch.full((len(x),), info["eos"]))
    assert decode_tokens(x, info) == train.words()


def test_debian_words():
    require_words()
    train = load_dataset("words")
    assert 50000 < len(train) < 60000 and train.info["max_len"] == 16
    assert all(w.isascii() and w.islower() and w.isalpha() for w in train.words()[:1000])
    with pytest.raises(DataError, match="not found"):
        load_dataset("words:/nonexistent/list.txt")
