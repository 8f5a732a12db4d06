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

# "domain" is the extractor genlab trains on first use for data without a shipped classifier
# (genlab.metrics.domain), trained here on the Fashion-MNIST train split as it would be for a user's folder.
DEFAULT_EXTRACTORS = ["fashion-mnist-classifier", "fashion-mnist-classifier-v1", "domain", "inception"]


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


def markdown(results: dict) -> str:
    """The tables docs/metrics.md quotes: verdicts and Spearman correlations per extractor (recomputed from rows)."""
    lines = []
    for name, entry in results["extractors"].items():
        if "rows" not in entry:
            lines += [f"**{name}**: not run ({entry['skipped']})", ""]
            continue
        rows = entry["rows"]
        verdict = verdicts(rows)
        failed = [f"{t}: {m}" for t, v in verdict.items() for m, ok in v.items() if not ok]
        lines += [f"**{entry.get('name', name)}** (weights {entry['weights']}): "
                  + ("passes every required direction" if not failed else "FAILS " + "; ".join(failed)), ""]
        table = spearman_table(rows)
        metrics = ["fid", "kid", "precision", "recall", "density", "coverage", "memorisation"]
        lines.append("| test | levels | FID at each level | " + " | ".join(f"rho {m}" for m in metrics) + " |")
        lines.append("|---|---|---|" + "---:|" * len(metrics))
        for test, rhos in table.items():
            part = sorted((r for r in rows if r["test"] == test), key=lambda r: r["level"])
            levels = ", ".join(f"{r['value']:g}" for r in part)
            fids = ", ".join(f"{r['fid']:.1f}" for r in part)
            cells = [f"{rhos[m]:+.2f}" if m in rhos else "" for m in metrics]
            lines.append(f"| {test} | {levels} | {fids} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extractors", default=",".join(DEFAULT_EXTRACTORS))
    parser.add_argument("--n", type=int, default=10_000, help="held-out images per condition")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "metric_validity.json")
    parser.add_argument("--plots", type=Path, default=REPO / "docs" / "metrics")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--report", action="store_true", help="only print the tables of the saved results")
    args = parser.parse_args(argv)
    if args.report:
        print(markdown(json.loads(args.out.read_text())))
        return
    torch.set_num_threads(args.threads)

    train = load_images("fashion-mnist", split="train")
    test = load_images("fashion-mnist", split="test")
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    results.setdefault("extractors", {})
    args.plots.mkdir(parents=True, exist_ok=True)
    for name in [e for e in args.extractors.split(",") if e]:
        try:
            if name == "domain":
                from genlab.metrics.domain import domain_extractor

                ext = domain_extractor(train.images, train.labels, label="fashion-mnist train split")
            else:
                ext = get_extractor(name)
        except MetricsError as exc:
            print(f"{name}: not run ({exc})", flush=True)
            results["extractors"][name] = {"skipped": str(exc)}
            continue
        start = time.time()
        rows = run_protocol(ext, train.images, train.labels, test.images, test.labels, n=args.n,
                            progress=lambda line: print(line, flush=True))
        table, verdict = spearman_table(rows), verdicts(rows)
        results["extractors"][name] = {"name": ext.name, "weights": ext.weights_hash, "rows": rows, "spearman": table,
                                       "verdicts": verdict, "seconds": round(time.time() - start, 1)}
        plot(name, rows, args.plots / f"validity-{name}.png")
        failed = [f"{t}:{m}" for t, v in verdict.items() for m, ok in v.items() if not ok]
        print(f"{name}: {'PASS' if not failed else 'FAIL ' + ', '.join(failed)}", flush=True)
    results.update(n=args.n, reference="fashion-mnist train split (60,000)", held_out="fashion-mnist test split",
                   torch=torch.__version__, python=platform.python_version(), date=time.strftime("%Y-%m-%d"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(markdown(results))


if __name__ == "__main__":
    main()
