"""docs/results/cyclegan.md from benchmarks/results/cyclegan_quality.json (see cyclegan_quality.py).

Tables only state what the JSON holds; the prose around them names the
settings and explains the diagnosis rows, whose figures sit in the tables.
"""

from __future__ import annotations

import statistics
from pathlib import Path

TARGETS = {"edges2fashion": "edges -> items: accuracy >= 75%, SSIM >= 0.40, MAE <= 0.15; "
                             "items -> edges: edge F1 >= 0.5 and no collapse in 3 seeds of 3"}


def pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def f3(v: float) -> str:
    return f"{v:.3f}"


def f1(v: float) -> str:
    return f"{v:.1f}"


def mean(values: list[float]) -> float:
    return statistics.fmean(values)


def collapse_of(run: dict, key: str) -> str:
    """The monitor's verdict on one generator of a finished run ('ab' or 'ba')."""
    name = "G_AB" if key == "ab" else "G_BA"
    hits = [w for w in run["monitor"]["warnings"] if f"collapse of {name}" in w]
    return "**collapsed**" if hits else "none"


def row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def direction_table(runs: list[dict], key: str, columns: list[tuple[str, str, callable]], baseline: str,
                    real: str | None, extra: list[tuple[str, callable]] = ()) -> list[str]:
    head = ["run"] + [c[0] for c in columns] + [e[0] for e in extra]
    lines = [row(head), row(["---"] * len(head))]
    first = runs[0]["scores"]
    lines.append(row([baseline] + [fmt(first[f"{m}_{key}_untranslated"]) for _, m, fmt in columns]
                     + ["-"] * len(extra)))
    for r in runs:
        s = r["scores"]
        lines.append(row([f"seed {r['seed']}"] + [fmt(s[f"{m}_{key}"]) for _, m, fmt in columns]
                         + [fn(r) for _, fn in extra]))
    if len(runs) > 1:
        lines.append(row([f"**mean of {len(runs)} seeds**"]
                         + [f"**{fmt(mean([r['scores'][f'{m}_{key}'] for r in runs]))}**" for _, m, fmt in columns]
                         + ["-"] * len(extra)))
    if real:  # the true targets scored against themselves: 0 for MAE and FID, 1 otherwise, the classifier's accuracy
        perfect = {m: 0.0 if m in ("mae", "fid") else runs[0]["reference"].get(f"{m}_{key}", 1.0) for _, m, _ in columns}
        lines.append(row([real] + [fmt(perfect[m]) for _, m, fmt in columns] + ["-"] * len(extra)))
    return lines


def beats(run: dict, key: str, metrics: list[str]) -> bool:
    s = run["scores"]
    lower = ("mae", "fid")
    return all((s[f"{m}_{key}"] < s[f"{m}_{key}_untranslated"]) if m in lower
               else (s[f"{m}_{key}"] > s[f"{m}_{key}_untranslated"]) for m in metrics)


def timing_lines(runs: list[dict]) -> list[str]:
    lines = [row(["task", "configuration", "seed", "steps", "training wall", "training CPU", "threads"]),
             row(["---"] * 7)]
    for r in runs:
        t = r["timing"]
        lines.append(row([r["task"], r["label"], str(r["seed"]), f"{r['steps']:,}", f"{t['wall_s'] / 60:.1f} min",
                          f"{t['cpu_s'] / 60:.1f} min", str(r["threads"])]))
    return lines


AB_ITEMS = [("MAE", "mae", f3), ("SSIM", "ssim", f3), ("accuracy", "accuracy", pct), ("FID", "fid", f1)]
BA_EDGES = [("MAE", "mae", f3), ("edge precision", "edge_precision", f3), ("edge recall", "edge_recall", f3),
            ("edge F1", "edge_f1", f3)]


def write_doc(runs: list[dict], path: Path) -> None:
    from cyclegan_prose import DIAGNOSIS, INTRO, READING  # noqa: PLC0415 - beside this module

    e2f = [r for r in runs if r["task"] == "edges2fashion" and r["label"] == "defaults"]
    neg = [r for r in runs if r["task"] == "fashion2negative" and r["label"] == "defaults"]
    diag = [r for r in runs if r["label"] != "defaults"]
    out = [INTRO.format(**intro_values(e2f + neg))]
    if e2f:
        out += ["## edges2fashion", "", "### edges -> items (G_AB, scored against the true items)", ""]
        out += direction_table(e2f, "ab", AB_ITEMS, "untranslated edge maps", "the true items")
        out += ["", "### items -> edges (G_BA, scored against the true edge maps)", ""]
        out += direction_table(e2f, "ba", BA_EDGES, "untranslated items", "the true edge maps",
                               [("collapse monitor", lambda r: collapse_of(r, "ba")),
                                ("mean intensity (real 0.144)", lambda r: f3(r["monitor"]["intensity_ba"]))])
        out += ["", f"Targets ({TARGETS['edges2fashion']}): " + target_verdict(e2f), "",
                "![edges2fashion](../cyclegan/edges2fashion.png)", "",
                "`docs/cyclegan/edges2fashion.png` (seed 0, first 12 test pairs): edge maps, their "
                "translations G_AB, the true items; then the items, their translations G_BA, the true edge maps.",
                ""]
    if neg:
        out += ["## fashion2negative (the second task: items <-> their negatives)", ""]
        for key, title in (("ab", "items -> negatives (G_AB)"), ("ba", "negatives -> items (G_BA)")):
            out += [f"### {title}", ""]
            out += direction_table(neg, key, AB_ITEMS, "untranslated inputs", "the true targets")
            out += [""]
        metrics = [m for _, m, _ in AB_ITEMS]
        verdict = all(beats(r, k, metrics) for r in neg for k in ("ab", "ba"))
        out += [f"Both directions beat the untranslated inputs on every score in every seed: "
                f"**{'yes' if verdict else 'no'}**.", "", "![fashion2negative](../cyclegan/fashion2negative.png)", ""]
    if diag:
        out += ["## Diagnosis: one setting changed from the defaults (edges2fashion, seed 0)", "", DIAGNOSIS, ""]
        head = ["change", "steps", "A->B MAE", "A->B SSIM", "A->B accuracy", "B->A edge F1", "G_BA collapse"]
        out += [row(head), row(["---"] * len(head))]
        for r in [x for x in e2f if x["seed"] == 0] + [x for x in diag if x["task"] == "edges2fashion"]:
            s = r["scores"]
            out.append(row([r["label"] if r["label"] != "defaults" else "**defaults**", f"{r['steps']:,}",
                            f3(s["mae_ab"]), f3(s["ssim_ab"]), pct(s["accuracy_ab"]), f3(s["edge_f1_ba"]),
                            collapse_of(r, "ba")]))
        out += [""]
    out += ["## Timing", "", *timing_lines(runs), "", READING, ""]
    path.write_text("\n".join(out))


README_START = "<!-- cyclegan-table: written by benchmarks/cyclegan_quality.py --doc -->"
README_END = "<!-- /cyclegan-table -->"


def readme_table(runs: list[dict]) -> str:
    """The README's CycleGAN table: seed means of the default runs, each direction beside doing nothing."""
    lines = [row(["task, direction", "seeds", "steps (training wall)", "MAE", "SSIM", "accuracy", "edge F1",
                  "collapses"]), row(["---"] + ["---:"] * 7)]
    for task, key, title, cols in (("edges2fashion", "ab", "edges -> items", ("mae", "ssim", "accuracy")),
                                   ("edges2fashion", "ba", "items -> edges", ("mae", "edge_f1")),
                                   ("fashion2negative", "ab", "items -> negatives", ("mae", "ssim", "accuracy")),
                                   ("fashion2negative", "ba", "negatives -> items", ("mae", "ssim", "accuracy"))):
        rs = [r for r in runs if r["task"] == task and r["label"] == "defaults"]
        if not rs:
            continue
        fmt = {"mae": f3, "ssim": f3, "accuracy": pct, "edge_f1": f3}
        walls = [r["timing"]["wall_s"] / 60 for r in rs]
        cells = {m: f"**{fmt[m](mean([r['scores'][f'{m}_{key}'] for r in rs]))}**" for m in cols}
        plain = {m: fmt[m](rs[0]["scores"][f"{m}_{key}_untranslated"]) for m in cols}
        collapsed = sum(collapse_of(r, key) != "none" for r in rs)
        lines.append(row([f"{task}: {title}", str(len(rs)), f"{rs[0]['steps']:,} ({min(walls):.1f}-{max(walls):.1f} min)"]
                         + [cells.get(m, "-") for m in ("mae", "ssim", "accuracy", "edge_f1")]
                         + [f"{collapsed} of {len(rs)}"]))
        lines.append(row([f"{task}: {title}, untranslated input", "-", "-"]
                         + [plain.get(m, "-") for m in ("mae", "ssim", "accuracy", "edge_f1")] + ["-"]))
    return "\n".join(lines)


def target_verdict(runs: list[dict]) -> str:
    s = [r["scores"] for r in runs]
    checks = [("accuracy", mean([x["accuracy_ab"] for x in s]) >= 0.75),
              ("SSIM", mean([x["ssim_ab"] for x in s]) >= 0.40),
              ("MAE", mean([x["mae_ab"] for x in s]) <= 0.15),
              ("edge F1 in every seed", all(x["edge_f1_ba"] >= 0.5 for x in s)),
              ("no collapse in any seed", all(collapse_of(r, "ba") == "none" for r in runs))]
    return "; ".join(f"{name} {'met' if ok else '**not met**'}" for name, ok in checks) + \
        f" (means over {len(runs)} seed{'s' if len(runs) > 1 else ''})."


def intro_values(runs: list[dict]) -> dict:
    if not runs:
        return {"steps": "?", "batch": "?", "wall": "?", "config": "?"}
    r = runs[0]
    c = {**r["config"], **r["settings"]}
    walls = [x["timing"]["wall_s"] / 60 for x in runs]
    config = ", ".join(f"{k} {c[k]}" for k in ("preset", "g_width", "n_blocks", "n_down", "upsample", "d_width", "loss",
                                                "lambda_cycle", "lambda_identity", "lr", "pool_size") if k in c)
    return {"steps": str(r["steps"]), "batch": r.get("batch_size", 8), "wall": f"{min(walls):.1f}-{max(walls):.1f}",
            "config": config}
