"""Smoke test of benchmarks/sequence_quality.py: a tiny step budget on all four (family, data) pairs
(the stocks from ../shared/data or a file of the same format), results JSON, table and plots."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from .datafiles import stocks_csv

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "sequence_quality.py"


def test_sequence_quality_benchmark_smoke(tmp_path, one_thread):
    spec = importlib.util.spec_from_file_location("sequence_quality", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = tmp_path / "q.json"
    bench.main(["--steps", "3", "--seeds", "0", "--n", "64", "--disc-steps", "5", "--pred-steps", "5",
                "--stocks", str(stocks_csv()), "--runs", str(tmp_path / "runs"), "--results", str(results),
                "--plots", "--docs", str(tmp_path / "docs"), "--set", "hidden=16", "--label", "tiny"])
    rows = json.loads(results.read_text())
    assert sorted(rows) == [f"{f}/{d}/tiny/timegan/seed0" for f in ("rgan", "seqvae") for d in ("sines", "stocks")]
    for row in rows.values():
        assert row["steps"] == 3 and row["n"] == 64 and row["options"] == {"hidden": 16}
        assert row["protocol"] == "timegan"
        assert 0 <= row["discriminative"] <= 0.5 and 0 < row["predictive"] < 1 and 0 < row["predictive_real"] < 1
    md = results.with_suffix(".md").read_text()
    assert md.count("| tiny |") == 2 and md.count("| tiny, gmm sampler |") == 2 and "| sines | timegan | TimeGAN (Yoon et al. 2019, Table 2) |" in md
    # TimeGAN's preparation: the stock file's rows flipped, the header kept
    original = stocks_csv().read_text().split()
    flipped = (tmp_path / "runs" / "stock_data_flipped.csv").read_text().split()
    assert flipped[0] == original[0] and flipped[1:] == original[1:][::-1]
    # the seqvae samples from its mixture by default; the same weights are also scored with the prior
    for data in ("sines", "stocks"):
        row = rows[f"seqvae/{data}/tiny/timegan/seed0"]
        assert row["sampler"] == "gmm" and 0 <= row["prior_discriminative"] <= 0.5 and row["prior_predictive"] > 0
    assert "| tiny, gmm sampler |" in md and "| tiny, prior sampler |" in md
    # --rescore scores the same run again without training: steps and training time kept, a date added
    bench.main(["--only", "seqvae/sines", "--rescore", "--seeds", "0", "--n", "64", "--disc-steps", "5",
                "--pred-steps", "5", "--runs", str(tmp_path / "runs"), "--results", str(results), "--set", "hidden=16",
                "--label", "tiny"])
    again = json.loads(results.read_text())["seqvae/sines/tiny/timegan/seed0"]
    first = rows["seqvae/sines/tiny/timegan/seed0"]
    assert again["rescored"] and {k: again[k] for k in ("steps", "train_wall_s")} == \
        {k: first[k] for k in ("steps", "train_wall_s")}
    assert again["discriminative"] == first["discriminative"]  # same weights, mixture, seed: the same score
    assert len(list((tmp_path / "docs").glob("*-series.png"))) == 4
    assert len(list((tmp_path / "docs").glob("*-pca-tsne.png"))) == 4
