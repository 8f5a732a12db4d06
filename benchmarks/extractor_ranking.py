"""Do genlab's extractors rank trained models the way an independent evaluator does?

Issue 24's protocol: six image families trained 3 epochs each on Fashion-MNIST
with their defaults, 10,000 samples each, scored with `genlab eval` against
the training split. An independent evaluator (its own Fashion-MNIST feature
extractor, not shipped here) ranked them; its FIDs are quoted below as
published in the issue. This script trains the six families (or reuses runs
already in `--runs`), scores every run with each extractor named in
`--extractors`, and reports each extractor's Spearman rank correlation with the
independent ranking. Results go to benchmarks/results/extractor_ranking.json.

    python benchmarks/extractor_ranking.py --epochs 3 --runs /tmp/rank-runs

Training takes about 10 minutes on a 2-core CPU; scoring about 1 minute per
run and extractor.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from scipy.stats import spearmanr

HERE = Path(__file__).resolve().parent
FAMILIES = ["dcgan", "cgan", "cvae", "infogan", "gan", "vae"]
# The independent evaluator's FIDs for the six families at 3 epochs (issue 24's table).
INDEPENDENT_FID = {"dcgan": 78.8, "cgan": 106.0, "cvae": 110.6, "infogan": 146.6, "gan": 158.2, "vae": 179.0}


def genlab(*args: str) -> str:
    """Run the genlab CLI in this interpreter; its stdout (stderr passes through)."""
    out = subprocess.run([sys.executable, "-m", "genlab", *args], check=True, stdout=subprocess.PIPE, text=True)
    return out.stdout


def train(family: str, run: Path, epochs: int, seed: int) -> float:
    """Train one family with its defaults unless the run already has a final checkpoint; seconds taken."""
    if (run / "config.json").exists() and any(run.glob("checkpoints/*")):
        return 0.0
    t = time.perf_counter()
    genlab("train", family, "--data", "fashion-mnist", "--epochs", str(epochs), "--seed", str(seed), "--out", str(run))
    return time.perf_counter() - t


def score(run: Path, extractor: str, n: int) -> dict:
    """FID / precision / recall of `n` samples from the run against the training split."""
    text = genlab("eval", str(run), "--n", str(n), "--extractor", extractor, "--metrics", "fid,pr",
                  "--no-family-metrics", "--json")
    return json.loads(text)["metrics"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs", type=Path, default=Path("runs/extractor-ranking"))
    p.add_argument("--extractors", default="fashion-mnist-classifier,fashion-mnist-classifier-v1")
    p.add_argument("--out", type=Path, default=HERE / "results" / "extractor_ranking.json")
    args = p.parse_args()

    runs = {}
    for fam in FAMILIES:
        run = args.runs / fam
        seconds = train(fam, run, args.epochs, args.seed)
        runs[fam] = {"run": str(run), "train_seconds": round(seconds, 1)}
        print(f"{fam}: trained ({seconds:.0f} s)", flush=True)

    result = {
        "protocol": f"six families, {args.epochs} epochs each at their defaults, seed {args.seed}, "
                    f"{args.n} samples against the Fashion-MNIST training split",
        "independent_fid": INDEPENDENT_FID,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "runs": runs,
        "extractors": {},
    }
    ind = [INDEPENDENT_FID[f] for f in FAMILIES]
    for ext in args.extractors.split(","):
        rows = {}
        for fam in FAMILIES:
            m = score(Path(runs[fam]["run"]), ext, args.n)
            rows[fam] = {k: m[k] for k in ("fid", "precision", "recall") if k in m}
            print(f"{ext:32s} {fam:8s} FID {rows[fam]['fid']:8.2f}", flush=True)
        fids = [rows[f]["fid"] for f in FAMILIES]
        rho = spearmanr(fids, ind).statistic
        ranking = sorted(FAMILIES, key=lambda f: rows[f]["fid"])
        result["extractors"][ext] = {"scores": rows, "ranking_best_first": ranking, "spearman_vs_independent": round(float(rho), 3)}
        print(f"{ext}: ranking {ranking}, Spearman vs independent {rho:.3f}", flush=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
