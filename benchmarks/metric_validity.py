"""The disturbance protocol (Heusel et al. 2017, Fig. 1) for every extractor genlab offers.

Disturbs the Fashion-MNIST test split at 4 levels (plus level 0) and scores it
against the train split; adds mode dropping, mode invention and memorisation.
Writes benchmarks/results/metric_validity.json, plots per extractor under
docs/metrics/, and prints the Spearman table and the pass/fail verdicts that
docs/metrics.md quotes.

    python benchmarks/metric_validity.py                      # every available extractor, all 10,000 test images
    python benchmarks/metric_validity.py --extractors fashion-mnist-classifier --n 2000
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from genlab.data import load_images  # noqa: E402
from genlab.metrics import MetricsError, get_extractor  # noqa: E402
from genlab.metrics.validity import spearman_table, verdicts, run_protocol  # noqa: E402

DEFAULT_EXTRACTORS = ["fashion-mnist-classifier", "fashion-mnist-classifier-v1", "inception"]


def plot(name: str, rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tests = list(dict.fromkeys(r["test"] for r in rows))
    metrics = ["fid", "kid", "precision", "recall", "density", "coverage"]
    fig, axes = plt.subplots(len(metrics), len(tests), figsize=(2.1 * len(tests), 1.7 * len(metrics)), squeeze=False)
    for j, test in enumerate(tests):
        part = sorted((r for r in rows if r["test"] == test), key=lambda r: r["level"])
        for i, metric in enumerate(metrics):
            ax = axes[i][j]
            ax.plot([r["level"] for r in part], [r[metric] for r in part], "o-", ms=3)
            ax.set_xticks(range(len(part)))
            ax.tick_params(labelsize=6)
            if i == 0:
                ax.set_title(test.replace("_", " "), fontsize=7)
            if j == 0:
                ax.set_ylabel(metric, fontsize=7)
    fig.suptitle(f"{name}: metric vs disturbance level", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extractors", default=",".join(DEFAULT_EXTRACTORS))
    parser.add_argument("--n", type=int, default=10_000, help="held-out images per condition")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "metric_validity.json")
    parser.add_argument("--plots", type=Path, default=REPO / "docs" / "metrics")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    train = load_images("fashion-mnist", split="train")
    test = load_images("fashion-mnist", split="test")
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    results.setdefault("extractors", {})
    args.plots.mkdir(parents=True, exist_ok=True)
    for name in [e for e in args.extractors.split(",") if e]:
        try:
            ext = get_extractor(name)
        except MetricsError as exc:
            print(f"{name}: not run ({exc})", flush=True)
            results["extractors"][name] = {"skipped": str(exc)}
            continue
        start = time.time()
        rows = run_protocol(ext, train.images, train.labels, test.images, test.labels, n=args.n,
                            progress=lambda line: print(line, flush=True))
        table, verdict = spearman_table(rows), verdicts(rows)
        results["extractors"][name] = {"weights": ext.weights_hash, "rows": rows, "spearman": table,
                                       "verdicts": verdict, "seconds": round(time.time() - start, 1)}
        plot(name, rows, args.plots / f"validity-{name}.png")
        failed = [f"{t}:{m}" for t, v in verdict.items() for m, ok in v.items() if not ok]
        print(f"{name}: {'PASS' if not failed else 'FAIL ' + ', '.join(failed)}", flush=True)
    results.update(n=args.n, reference="fashion-mnist train split (60,000)", held_out="fashion-mnist test split",
                   torch=torch.__version__, python=platform.python_version(), date=time.strftime("%Y-%m-%d"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
