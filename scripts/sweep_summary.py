"""Markdown tables of a finished sweep for docs/sweeps.md: the importances, and how the
metric varies with each searched option (median and best per choice, or per third of a
range) over the finished trials.

    python scripts/sweep_summary.py sweeps/dcgan-fashion-mnist
"""

from __future__ import annotations

import argparse
import statistics

from genlab.search_space import Choice
from genlab.sweep import importances, open_sweep, trial_rows


def groups(rows, name, dist):
    """(label, values of the metric) per choice, or per third of the range (by rank)."""
    pts = [(r["params"][name], r["value"]) for r in rows if name in r["params"]]
    if isinstance(dist, Choice):
        return [(str(c), [v for p, v in pts if str(p) == str(c)]) for c in dist.choices]
    pts.sort()
    k = len(pts)
    cuts = [pts[: k // 3], pts[k // 3: 2 * k // 3], pts[2 * k // 3:]]
    return [(f"{part[0][0]:.3g}..{part[-1][0]:.3g}", [v for _, v in part]) for part in cuts if part]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir")
    args = parser.parse_args()
    study = open_sweep(args.sweep_dir)
    spec = study.spec
    rows = [r for r in trial_rows(study) if r["state"] == "complete"]
    values = [r["value"] for r in rows]
    best, worst = (min, max) if spec.direction == "minimize" else (max, min)
    counts = {}
    for r in trial_rows(study):
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    print(f"{spec.family} on {spec.data}: {', '.join(f'{n} {s}' for s, n in counts.items())}; "
          f"{spec.metric} of finished trials: best {best(values):.1f}, median {statistics.median(values):.1f}, "
          f"worst {worst(values):.1f}\n")
    imp = importances(study)
    print(f"| option | importance | {spec.metric}: median (best) per value, finished trials |")
    print("|---|---:|---|")
    for name in sorted(spec.space, key=lambda n: -imp.get(n, 0.0)):
        cells = [f"{label}: {statistics.median(v):.0f} ({best(v):.0f}, n={len(v)})" if v else f"{label}: -"
                 for label, v in groups(rows, name, spec.space[name])]
        print(f"| `{name}` | {imp.get(name, 0.0):.2f} | {'; '.join(cells)} |")


if __name__ == "__main__":
    main()
