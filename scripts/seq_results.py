"""Train the sequence families for a short CPU budget each and score them.

Runs, one after another, on one CPU thread:

- rgan and seqvae on ``sines`` (TimeGAN's 5-feature sines, 24 steps),
- rgan and seqvae on the Google stock prices (``csv:PATH``, 6 features,
  windows of 24 steps),
- seqvae on Debian's English word list (``words``),

then computes TimeGAN's discriminative and predictive scores (against the
training windows, the paper's protocol, and against the held-out windows)
or the word statistics, and writes the plots under ``docs/seq/`` and all
numbers to ``RUNS/results.json``.

    .venv/bin/python scripts/seq_results.py --minutes 3 \
        --stocks /work/shared/data/stocks/stock_data.csv --runs runs/seq-results
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

import genlab
from genlab.data import load_dataset
from genlab.viz import plot_real_vs_generated, render_text, save_grid
from genlab.seqmetrics import plot_pca_tsne, sequence_scores

TRAIN = dict(batch_size=128, seed=0, log_every=100, sample_every=0, checkpoint_every=0,
             tensorboard=False, progress=False)


def score_series(model, data_name: str, n: int, seed: int, disc_steps: int, pred_steps: int,
                 docs: Path, tag: str) -> dict:
    train = load_dataset(data_name, split="train")
    test = load_dataset(data_name, split="test")
    out = {}
    g = torch.Generator().manual_seed(seed)
    real_train = train.tensors["x"][torch.randperm(len(train), generator=g)[:n]]
    real_test = test.tensors["x"]
    fake = model.sample(max(n, len(real_test)), seed=seed, scaled=True)["sequences"]
    t = time.time()
    out["vs_train"] = sequence_scores(real_train, fake[:n], seed=seed, disc_steps=disc_steps,
                                      pred_steps=pred_steps, baseline=True)
    out["vs_test"] = sequence_scores(real_test, fake[:len(real_test)], seed=seed, disc_steps=disc_steps,
                                     pred_steps=pred_steps)
    out["eval_seconds"] = time.time() - t
    plot_real_vs_generated(train.inverse_transform(real_train[:4]), model.sample(4, seed=seed)["sequences"],
                           docs / f"{tag}-series.png", train.columns, n=4, title=tag)
    plot_pca_tsne(real_train, fake[:n], docs / f"{tag}-pca-tsne.png", n=min(n, 1000), seed=seed, title=tag)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=3.0, help="training budget per run (wall clock)")
    p.add_argument("--stocks", default="/work/shared/data/stocks/stock_data.csv")
    p.add_argument("--runs", default="runs/seq-results")
    p.add_argument("--docs", default="docs/seq")
    p.add_argument("--n", type=int, default=1000, help="sequences sampled for the scores")
    p.add_argument("--disc-steps", type=int, default=2000)
    p.add_argument("--pred-steps", type=int, default=5000)
    p.add_argument("--only", default="", help="comma-separated subset of run names")
    args = p.parse_args()
    torch.set_num_threads(1)
    runs, docs = Path(args.runs), Path(args.docs)
    runs.mkdir(parents=True, exist_ok=True)
    results_path = runs / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    stocks = f"csv:{args.stocks}"
    plan = [
        ("rgan-sines", "rgan", "sines", {}),
        ("seqvae-sines", "seqvae", "sines", {}),
        ("rgan-stocks", "rgan", stocks, {}),
        ("seqvae-stocks", "seqvae", stocks, {}),
        ("seqvae-words", "seqvae", "words", {}),
    ]
    only = {s for s in args.only.split(",") if s}
    for name, family, data, opts in plan:
        if only and name not in only:
            continue
        run = runs / name
        shutil.rmtree(run, ignore_errors=True)  # a fresh run each time
        t0 = time.time()
        res = genlab.train(family, data=data, out=run, minutes=args.minutes, **TRAIN, **opts)
        row = {"family": family, "data": data, "steps": res.step, "train_seconds": time.time() - t0,
               "minutes": args.minutes, "options": opts, "last_logs": res.last_logs}
        model = genlab.load(run)
        if family == "seqvae" and data == "words":
            test = load_dataset("words", split="test")
            row["scores"] = model.evaluate(test, n=2000, seed=0)
            words = model.decode_text(model.sample(40, seed=0)["tokens"])
            row["examples"] = words
            save_grid(render_text(test.words()[:24], words[:24], n=24), docs / "seqvae-words.png")
        else:
            row["scores"] = score_series(model, data, args.n, 0, args.disc_steps, args.pred_steps, docs, name)
        results[name] = row
        results_path.write_text(json.dumps(results, indent=2) + "\n")
        print(name, json.dumps(row["scores"]), flush=True)


if __name__ == "__main__":
    main()
