"""What a sweep leaves behind: the best configuration as a YAML file `genlab train
--config` accepts, the table of trials, parameter importances (fANOVA) and the
figures (optimisation history, importances, slice plots) as PNGs."""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

import yaml

from ..search_space import Choice, Float, Int
from .study import SweepStudy

BEST_FILE = "best.yaml"
IMPORTANCES_FILE = "importances.json"
PLOTS_DIR = "plots"
PLOTS = ("history", "importances", "slices")


def _states():
    from optuna.trial import TrialState  # noqa: PLC0415

    return TrialState


def best_trial(study: SweepStudy):
    done = study.trials(_states().COMPLETE)
    if not done:
        return None
    key = (lambda t: t.value) if study.spec.direction == "minimize" else (lambda t: -t.value)
    return min(done, key=lambda t: (key(t), t.number))


def write_best(study: SweepStudy, sweep_dir: Path) -> Path | None:
    """``best.yaml``: the best finished trial's options, ready for `genlab train --config`."""
    best = best_trial(study)
    if best is None:
        return None
    spec = study.spec
    options = spec.best_options(best.params)
    header = (f"# genlab sweep {study.name}: best of {len(study.trials(_states().COMPLETE))} finished trials is "
              f"#{best.number}, {spec.metric} {best.value:.6g}\n"
              f"# train it: genlab train {spec.family} --config {BEST_FILE} [--steps N] [--out DIR]\n")
    path = Path(sweep_dir) / BEST_FILE
    tmp = path.with_name(f".{BEST_FILE}.{os.getpid()}")
    tmp.write_text(header + yaml.safe_dump(options, sort_keys=False))
    os.replace(tmp, path)  # several workers may write it: each write is whole
    return path


def trial_rows(study: SweepStudy) -> list[dict[str, Any]]:
    """One dict per trial, best first (finished, then pruned, running, waiting, failed)."""
    states = _states()
    order = {states.COMPLETE: 0, states.PRUNED: 1, states.RUNNING: 2, states.WAITING: 3, states.FAIL: 4}
    sign = 1 if study.spec.direction == "minimize" else -1
    rows = []
    for t in study.trials():
        value = t.value if t.value is not None else (
            t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else None)
        minutes = ((t.datetime_complete - t.datetime_start).total_seconds() / 60
                   if t.datetime_complete and t.datetime_start else None)
        rows.append({"trial": t.number, "state": t.state.name.lower(), "value": value,
                     "step": t.user_attrs.get("step"), "minutes": minutes, "params": dict(t.params),
                     "error": t.user_attrs.get("error"), "run_dir": t.user_attrs.get("run_dir")})
    rows.sort(key=lambda r: (order[states[r["state"].upper()]],
                             sign * r["value"] if r["value"] is not None and math.isfinite(r["value"]) else math.inf,
                             r["trial"]))
    return rows


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else str(v)


def format_table(study: SweepStudy, top: int = 10) -> str:
    """The top trials as a text table, under a one-line summary."""
    rows = trial_rows(study)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    spec = study.spec
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    lines = [f"study {study.name}: {spec.family} on {spec.data}, {len(rows)} trials ({summary}); "
             f"{spec.metric} ({spec.direction})"]
    names = list(spec.space)
    head = ["#", "trial", "state", spec.metric, "step", "min"] + names
    table = [head]
    for rank, r in enumerate(rows[:top], 1):
        table.append([str(rank), str(r["trial"]), r["state"], _fmt(r["value"]), _fmt(r["step"]),
                      _fmt(r["minutes"])] + [_fmt(r["params"].get(n)) for n in names])
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        lines.append("  ".join(cell.rjust(w) if i != 2 else cell.ljust(w) for i, (cell, w) in
                               enumerate(zip(row, widths))))
    if len(rows) > top:
        lines.append(f"... {len(rows) - top} more (--top N)")
    return "\n".join(lines)


def importances(study: SweepStudy) -> dict[str, float]:
    """fANOVA importances of the searched options over the finished trials ({} when too few)."""
    import optuna  # noqa: PLC0415

    done = study.trials(_states().COMPLETE)
    if len(done) < 3:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            values = optuna.importance.get_param_importances(
                study.study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
        except (RuntimeError, ValueError):  # e.g. every finished trial has the same values
            return {}
    return {k: float(v) for k, v in values.items()}


def write_plots(study: SweepStudy, sweep_dir: Path) -> dict[str, Path]:
    """``plots/history.png``, ``importances.png``, ``slices.png`` and ``importances.json``."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    folder = Path(sweep_dir) / PLOTS_DIR
    rows = [r for r in trial_rows(study) if r["value"] is not None and math.isfinite(r["value"])]
    if not any(r["state"] == "complete" for r in rows):
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    values = importances(study)
    (Path(sweep_dir) / IMPORTANCES_FILE).write_text(json.dumps(values, indent=2) + "\n")
    spec = study.spec
    title = f"{spec.family} on {spec.data}"
    written = {"history": _save(plot_history(rows, spec.metric, spec.direction, title), folder / "history.png"),
               "slices": _save(plot_slices(rows, spec, title), folder / "slices.png")}
    if values:
        done = sum(r["state"] == "complete" for r in rows)
        written["importances"] = _save(plot_importances(values, spec.metric, done, title),
                                       folder / "importances.png")
    return written


def plot_history(rows: list[dict[str, Any]], metric: str, direction: str, title: str):
    """The metric of each trial in trial order (pruned trials at their last evaluation)
    and the best so far."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    rows = sorted(rows, key=lambda r: r["trial"])
    for state, style in (("complete", dict(color="#3b7dd8", marker="o", label="finished")),
                         ("pruned", dict(color="#999999", marker="x", label="pruned (last evaluation)"))):
        pts = [(r["trial"], r["value"]) for r in rows if r["state"] == state]
        if pts:
            ax.scatter(*zip(*pts), s=22, **style)
    best, xs, ys = None, [], []
    for r in rows:
        if r["state"] != "complete":
            continue
        if best is None or (r["value"] < best if direction == "minimize" else r["value"] > best):
            best = r["value"]
        xs.append(r["trial"])
        ys.append(best)
    ax.step(xs, ys, where="post", color="#d83b3b", label="best so far")
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.set_title(f"{title}: {metric} per trial")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_slices(rows: list[dict[str, Any]], spec, title: str):
    """One panel per searched option: the metric of each finished trial against its value."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    names = list(spec.space)
    cols = min(4, len(names))
    nrows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.3 * cols, 2.7 * nrows), dpi=100, squeeze=False,
                             sharey=True)
    done = [r for r in rows if r["state"] == "complete"]
    for ax, name in zip(axes.flat, names):
        dist = spec.space[name]
        pts = [(r["params"][name], r["value"]) for r in done if name in r["params"]]
        if isinstance(dist, Choice):
            labels = [str(c) for c in dist.choices]
            xs = [labels.index(str(v)) for v, _ in pts if str(v) in labels]
            ys = [y for v, y in pts if str(v) in labels]
            ax.scatter(xs, ys, s=18, color="#3b7dd8", alpha=0.8)
            ax.set_xticks(range(len(labels)), labels, rotation=30 if max(map(len, labels)) > 6 else 0,
                          fontsize=8)
            ax.set_xlim(-0.5, len(labels) - 0.5)
        elif isinstance(dist, (Float, Int)):
            if pts:
                ax.scatter(*zip(*pts), s=18, color="#3b7dd8", alpha=0.8)
            if dist.log:
                from matplotlib.ticker import NullFormatter  # noqa: PLC0415

                ax.set_xscale("log")
                ticks = [dist.low * (dist.high / dist.low) ** (i / 3) for i in range(4)]
                ax.set_xticks(ticks, [f"{t:.2g}" for t in ticks], fontsize=8)
                ax.xaxis.set_minor_formatter(NullFormatter())
                ax.set_xlim(dist.low / 1.2, dist.high * 1.2)
            else:
                pad = 0.04 * (dist.high - dist.low)
                ax.set_xlim(dist.low - pad, dist.high + pad)
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel(spec.metric)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle(f"{title}: {spec.metric} of the {len(done)} finished trials against each option", fontsize=11)
    return fig


def plot_importances(values: dict[str, float], metric: str, done: int, title: str):
    import matplotlib.pyplot as plt  # noqa: PLC0415

    names = list(values)[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(names) + 1.2), dpi=100)
    ax.barh(names, [values[n] for n in names], color="#3b7dd8")
    for y, n in enumerate(names):
        ax.text(values[n], y, f" {values[n]:.2f}", va="center", fontsize=8)
    ax.set_xlabel(f"fANOVA importance for {metric} ({done} finished trials)")
    ax.set_xlim(0, (max(values.values()) * 1.15) or 1)
    ax.set_title(f"{title}: which options matter")
    return fig


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
