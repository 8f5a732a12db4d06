"""`genlab eval` on runs, checkpoints and sample files, the real-vs-real floor,
and periodic evaluation during training with the best weights kept."""

from __future__ import annotations

import json

import numpy as np
import pytest

import genlab
from genlab.cli import main
from genlab.evaluation import evaluate_run

from .family_checks import read_metrics, train_small


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path_factory.getbasetemp() / "genlab-cache"))


def test_eval_run_prints_table_and_appends_json(tmp_path, capsys, fashion_dir):
    run = tmp_path / "run"
    train_small("dcgan", run, steps=2, g_width=8, d_width=8)
    assert main(["eval", str(run), "--n", "200", "--ref", "fashion-mnist:test", "--metrics", "fid,pr"]) == 0
    out = capsys.readouterr().out
    assert "fid" in out and "precision" in out and "recall" in out
    rows = [r for r in read_metrics(run) if "eval" in r]
    assert len(rows) == 1 and rows[0]["step"] == 2 and rows[0]["n"] == 200
    assert rows[0]["eval"]["fid"] > 0 and 0 <= rows[0]["eval"]["precision"] <= 1


def test_eval_conditional_run_reports_accuracy(tmp_path, fashion_dir):
    run = tmp_path / "run"
    train_small("cgan", run, steps=2)
    row = evaluate_run(run, n=100, reference="fashion-mnist:test", metrics=["accuracy", "class_coverage"])
    assert 0.0 <= row["metrics"]["accuracy"] <= 1.0 and "class_coverage" in row["metrics"]


def test_eval_on_npz_samples_and_floor(tmp_path, capsys, fashion_dir):
    run = tmp_path / "run"
    train_small("dcgan", run, steps=2, g_width=8, d_width=8)
    genlab.sample(run, 300, out=tmp_path / "s.npz")
    model_row = evaluate_run(tmp_path / "s.npz", n=300, reference="fashion-mnist:test", metrics=["fid"])
    floor = evaluate_run(None, n=300, reference="fashion-mnist", metrics=["fid"], split="test")
    # two barely trained steps are far from the data; real test images are close to real train images
    assert floor["metrics"]["fid"] < model_row["metrics"]["fid"]
    assert main(["eval", "--ref", "fashion-mnist", "--n", "300", "--metrics", "fid", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"]["fid"] == pytest.approx(floor["metrics"]["fid"])


def test_family_metrics_for_a_vae(tmp_path, fashion_dir):
    run = tmp_path / "run"
    train_small("vae", run, steps=3, width=8)
    row = evaluate_run(run, n=64, reference="fashion-mnist:test", metrics=["fid"])
    assert {"fid", "elbo", "nll_iwae", "active_units"} <= set(row["metrics"])
    assert np.isfinite(row["metrics"]["nll_iwae"])


def test_eval_every_keeps_best_weights(tmp_path, fashion_dir):
    run = tmp_path / "run"
    train_small("dcgan", run, steps=6, g_width=8, d_width=8, log_every=2, eval_every=2, eval_n=100)
    rows = [r for r in read_metrics(run) if "eval/fid" in r]
    assert [r["step"] for r in rows] == [2, 4, 6]
    best = json.loads((run / "best" / "config.json").read_text())["best"]
    assert best["metric"] == "fid" and best["value"] == min(r["eval/fid"] for r in rows)
    assert genlab.load(run / "best").sample(2, seed=0)["images"].shape == (2, 1, 28, 28)
