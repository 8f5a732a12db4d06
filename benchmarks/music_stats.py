"""Mogren's statistics of trained music models over several sample draws, against real and random notes.

    python benchmarks/music_stats.py runs/rgan-chorales runs/seqvae-chorales --draws 3 \
        --out benchmarks/results/music_stats.json

For each run: as many samples as the held-out split has windows (the
chorales: 922), drawn `--draws` times (seeds 0, 1, ...), each draw scored
with `genlab.metrics.music` exactly as `genlab eval` does (samples decoded to
note events); the random-note baseline is drawn as often. Prints a Markdown
table of mean ± standard deviation over the draws and, per statistic, the
margin by which each model beats random notes (|random - real| - |model -
real|) in units of the larger of the two spreads.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import genlab
from genlab.data import heldout_data
from genlab.data.music_features import event_range, events_from_features
from genlab.metrics.music import STATISTICS, music_statistics, random_notes


def draws(run: str, n_draws: int) -> tuple[dict, dict, dict, str]:
    model = genlab.load(run)
    info = model.data_info
    test = heldout_data(info, "test")
    real = events_from_features(test.inverse_transform(test.tensors["x"]).numpy(), info)
    rng = event_range(info)
    ours, rand = [], []
    for seed in range(n_draws):
        ours.append(music_statistics(events_from_features(model.sample(len(real), seed=seed)["sequences"].numpy(), info)))
        rand.append(music_statistics(random_notes(len(real), real.shape[1], rng["min"], rng["max"], seed)))
    stack = lambda rows: {k: [r[k] for r in rows] for k in STATISTICS}  # noqa: E731
    return music_statistics(real), stack(ours), stack(rand), f"{model.family} ({len(real)} samples x {n_draws})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--out", help="write the figures as JSON here")
    args = ap.parse_args(argv)
    results = {}
    for run in args.runs:
        real, ours, rand, label = draws(run, args.draws)
        results[run] = {"label": label, "real": real, "model": ours, "random": rand}
    first = next(iter(results.values()))
    head = "| statistic | real (test) | random notes | " + " | ".join(r["label"] for r in results.values()) + " |"
    print(head)
    print("|---|---:|---:|" + "---:|" * len(results))
    for k in STATISTICS:
        rnd = np.array(first["random"][k])
        cells = [f"{first['real'][k]:.3f}", f"{rnd.mean():.3f} ± {rnd.std():.3f}"]
        for r in results.values():
            v, b = np.array(r["model"][k]), np.array(r["random"][k])
            margin = abs(b.mean() - r["real"][k]) - abs(v.mean() - r["real"][k])
            noise = max(v.std(), b.std(), 1e-12)
            r.setdefault("margin", {})[k] = {"margin": margin, "in_spreads": margin / noise}
            cells.append(f"{v.mean():.3f} ± {v.std():.3f} ({'closer' if margin > 0 else 'NOT closer'} by {margin:.3f})")
        print(f"| {k} | " + " | ".join(cells) + " |")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
