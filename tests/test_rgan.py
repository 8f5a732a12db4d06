"""RGAN: real steps on sines and stock prices, conditioning, objectives, CSV/plot outputs."""

from __future__ import annotations

import csv

import pytest
import torch

import genlab
from genlab.cli import main as cli_main
from genlab.data import load_dataset
from genlab.errors import GenlabError
from genlab.models.rgan import RGAN, RGANConfig
from genlab.training import Trainer
from genlab.training.config import TrainConfig

from .test_sequences_data import check_sequence_family, stocks_spec

SMALL = dict(hidden=16, d_hidden=16, layers=1)


def test_rgan_on_sines(tmp_path):
    check_sequence_family("rgan", tmp_path, "sines", **SMALL)


def test_rgan_on_stock_prices(tmp_path):
    model = check_sequence_family("rgan", tmp_path, stocks_spec(), d_score="pooled", **SMALL)
    assert model.data_info["columns"][0] == "Open"
    prices = model.sample(4, seed=0)["sequences"]
    # original units: dollars and shares, not [0, 1]
    assert prices[..., 0].max() > 40 and prices[..., 5].max() > 1000


@pytest.mark.parametrize("loss", ["wgan-gp", "hinge"])
def test_rgan_objectives_and_feedback(tmp_path, loss):
    check_sequence_family("rgan", tmp_path, "sines", steps=3, loss=loss, feedback=(loss == "hinge"), **SMALL)


def test_rgan_conditional_on_labelled_sines(tmp_path):
    data = load_dataset("sines", n=300, classes=2)
    model = RGAN(RGANConfig(**SMALL, ema=0.9), data.info)
    assert model.conditional
    cfg = TrainConfig(steps=5, batch_size=16, log_every=1, sample_every=0, checkpoint_every=0,
                      tensorboard=False, progress=False, grid_size=8)
    result = Trainer(model, data, cfg, tmp_path / "run").fit()
    assert result.step == 5 and all(torch.isfinite(torch.tensor(v)) for v in result.last_logs.values())
    out = model.sample(6, seed=1, labels=1)
    assert out["sequences"].shape == (6, 24, 5) and out["labels"].tolist() == [1] * 6
    assert not torch.equal(out["sequences"], model.sample(6, seed=1, labels=0)["sequences"])
    with pytest.raises(GenlabError, match="out of range"):
        model.sample(2, labels=5)
    loaded = genlab.load(tmp_path / "run")
    assert torch.equal(loaded.sample(6, seed=1, labels=1)["sequences"], out["sequences"])
    # unconditional when asked, even on labelled data
    assert not RGAN(RGANConfig(**SMALL, conditional=False), data.info).conditional


def test_rgan_refuses_words():
    info = load_dataset("sines", n=20).info | {"kind": "tokens"}
    with pytest.raises(GenlabError, match="trains on sequence data"):
        RGAN(RGANConfig(), info)


def test_series_outputs_through_explore(tmp_path, capsys):
    run = tmp_path / "run"
    genlab.train("rgan", data="sines", out=run, steps=2, batch_size=16, limit=64, sample_every=0,
                 checkpoint_every=0, tensorboard=False, progress=False, **SMALL)
    assert cli_main(["explore", "series-plot", str(run), "--out", str(tmp_path / "s.csv"), "--n", "3"]) == 0
    rows = list(csv.reader(open(tmp_path / "s.csv")))
    assert rows[0] == ["sample", "step", "feature0", "feature1", "feature2", "feature3", "feature4"]
    assert len(rows) == 1 + 3 * 24 and rows[-1][:2] == ["2", "23"]
    assert cli_main(["explore", "series-plot", str(run), "--out", str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert cli_main(["explore", "series-plot", str(run), "--out", str(tmp_path / "w.txt")]) == 2
    assert "unknown output type" in capsys.readouterr().err
