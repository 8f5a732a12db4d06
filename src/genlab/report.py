"""A training report: one self-contained HTML page for a run folder.

`build_report(run, out)` writes the run's configuration, its loss and metric
curves (from ``metrics.jsonl``, one panel per group of keys), the sample
grids written during training (``samples/NAME-stepNNNNNNN.png``, in step
order) and an evaluation table (rows of ``metrics.jsonl`` that carry an
``"eval"`` key, and ``eval.jsonl`` if present). Every image is embedded as a
base64 PNG, so the file can be mailed or archived on its own. Files are read
defensively: a truncated last line or a missing file shortens the report, it
does not stop it.
"""

from __future__ import annotations

import html
import json
import math
import re
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable

from .errors import GenlabError
from .report_page import img_tag, kv_table, output_path, table, write_page
from .report_sweep import build_sweep_report, is_sweep_dir
from .training.rundir import RunDir, read_jsonl
from .viz import figure_png, pyplot

GRID_RE = re.compile(r"^(?P<name>.+)-step(?P<step>\d+)\.png$")
SKIP_KEYS = {"step", "time", "eval", "epoch"}
MAX_GRIDS_PER_NAME = 12


# -- reading ----------------------------------------------------------------------------------
def find_run_dir(path: str | Path) -> Path:
    """The run folder for `path` (a run folder, or a checkpoint folder inside one)."""
    path = Path(path)
    if not path.is_dir():
        raise GenlabError(f"{path} is not a folder; pass a run folder (runs/NAME) made by genlab train")
    if (path / "metrics.jsonl").is_file() or (path / "checkpoints").is_dir() or (path / "samples").is_dir():
        return path
    if path.parent.name == "checkpoints":
        return path.parent.parent
    raise GenlabError(f"{path} holds no metrics.jsonl, samples/ or checkpoints/; pass a run folder made by "
                      f"genlab train")


def read_config(run: Path) -> dict[str, Any]:
    for candidate in [run / "config.json"] + sorted((run / "checkpoints").glob("step-*/config.json"),
                                                     reverse=True):
        try:
            meta = json.loads(candidate.read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(meta, dict):
            return meta
    return {}


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "/"))
        else:
            out[key] = v
    return out


def eval_rows(metrics: list[dict[str, Any]], run: Path) -> list[dict[str, Any]]:
    """Evaluation results: ``metrics.jsonl`` rows with an "eval" key, then ``eval.jsonl``."""
    rows = []
    for row in metrics:
        if "eval" not in row:
            continue
        ev = row["eval"]
        flat = {"step": row.get("step")}
        flat.update(flatten(ev) if isinstance(ev, dict) else {"eval": ev})
        rows.append(flat)
    extra, _ = read_jsonl(run / "eval.jsonl")
    for row in extra:
        flat = flatten(row)
        if "eval" in row and isinstance(row["eval"], dict):
            flat = {k: v for k, v in flat.items() if not k.startswith("eval/")}
            flat.update(flatten(row["eval"]))
        rows.append(flat)
    return rows


def group_keys(keys: Iterable[str]) -> "OrderedDict[str, list[str]]":
    """Keys plotted together: "a/b" by prefix, losses together, shared "x_" prefixes, else alone."""
    keys = list(keys)
    prefix_count: dict[str, int] = {}
    for k in keys:
        if "/" not in k and "_" in k:
            p = k.split("_", 1)[0]
            prefix_count[p] = prefix_count.get(p, 0) + 1
    groups: "OrderedDict[str, list[str]]" = OrderedDict()
    for k in keys:
        if "/" in k:
            g = k.split("/", 1)[0]
        elif k in ("images_per_s", "items_per_s", "steps_per_s"):
            g = "throughput"
        elif k == "loss" or k.startswith("loss_") or k.endswith("_loss"):
            g = "losses"
        elif "_" in k and prefix_count.get(k.split("_", 1)[0], 0) >= 2:
            g = k.split("_", 1)[0] + "_*"
        else:
            g = k
        groups.setdefault(g, []).append(k)
    if "throughput" in groups:
        groups.move_to_end("throughput")
    return groups


def sample_grids(run: Path) -> "OrderedDict[str, list[tuple[int, Path]]]":
    """{grid name: [(step, path), ...] in step order} from RUN/samples."""
    found: dict[str, list[tuple[int, Path]]] = {}
    folder = run / "samples"
    if folder.is_dir():
        for p in folder.iterdir():
            m = GRID_RE.match(p.name)
            if m and p.is_file():
                found.setdefault(m["name"], []).append((int(m["step"]), p))
    order = sorted(found, key=lambda n: (n != "samples", n))
    return OrderedDict((n, sorted(found[n])) for n in order)


def spread(items: list[Any], k: int) -> list[Any]:
    """At most `k` items, evenly spaced, always keeping the first and the last."""
    if len(items) <= k:
        return items
    idx = sorted({round(i * (len(items) - 1) / (k - 1)) for i in range(k)})
    return [items[i] for i in idx]


# -- plotting ---------------------------------------------------------------------------------
def plot_groups(rows: list[dict[str, Any]], groups: "OrderedDict[str, list[str]]", x_key: str = "step") -> bytes:
    """One panel per group of keys against `x_key`; PNG bytes."""
    plt = pyplot()
    n = len(groups)
    cols = min(3, n)
    nrows = math.ceil(n / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.3 * cols, 3.0 * nrows), dpi=90, squeeze=False)
    for ax, (title, keys) in zip(axes.flat, groups.items()):
        for k in keys:
            pts = [(r[x_key], r[k]) for r in rows if is_number(r.get(x_key)) and is_number(r.get(k))]
            if not pts:
                continue
            xs, ys = zip(*pts)
            ax.plot(xs, ys, linewidth=1.2, marker="o" if len(xs) < 12 else None, markersize=3, label=k)
        ax.set_title(title)
        ax.set_xlabel(x_key)
        ax.grid(alpha=0.3)
        if len(keys) > 1:
            ax.legend(fontsize=8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    return figure_png(fig)


def build_report(run: str | Path, out: str | Path | None = None,
                 max_grids: int = MAX_GRIDS_PER_NAME) -> Path:
    """Write the HTML report of `run` (or of a sweep folder) to `out` (default RUN/report.html)."""
    if is_sweep_dir(run):
        return build_sweep_report(run, out)
    run = find_run_dir(run)
    out = output_path(out, run)
    meta = read_config(run)
    metrics, bad = RunDir(run).read()
    train_rows = [r for r in metrics if "eval" not in r or any(k not in SKIP_KEYS for k in r)]
    title = f"genlab report: {meta.get('family', '?')} — {run.name}"
    parts = [f"<h1>{html.escape(title)}</h1>", summary_section(run, train_rows), config_section(meta),
             curves_section(train_rows, bad), samples_section(run, max_grids), evaluation_section(metrics, run)]
    return write_page(out, title, parts)


def summary_section(run: Path, train_rows: list[dict[str, Any]]) -> str:
    last = train_rows[-1] if train_rows else {}
    summary = [f"run folder <code>{html.escape(str(run.resolve()))}</code>"]
    if last.get("step") is not None:
        summary.append(f"{last['step']} steps")
    times = [r["time"] for r in train_rows if is_number(r.get("time"))]
    if len(times) > 1:
        summary.append(f"{(times[-1] - times[0]) / 60:.1f} min between first and last log")
    summary.append(f"written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    return f'<p class="muted">{" · ".join(summary)}</p>'


def config_section(meta: dict[str, Any]) -> str:
    parts = ['<h2 id="configuration">Configuration</h2>']
    if meta:
        data = meta.get("data") or {}
        data_view = {k: v for k, v in data.items() if k != "class_names"}
        if data.get("class_names"):
            data_view["class_names"] = ", ".join(map(str, data["class_names"]))
        model = {"family": meta.get("family", "?"), "genlab": meta.get("genlab_version"), **(meta.get("config") or {})}
        blocks = [("Model", model), ("Trainer", meta.get("train") or {}), ("Data", data_view)]
        parts.append('<div class="configs">' + "".join(
            f"<div><h3>{name}</h3>{kv_table(d)}</div>" for name, d in blocks if d) + "</div>")
    else:
        parts.append('<p class="muted">No config.json found in this run.</p>')
    return "\n".join(parts)


def curves_section(train_rows: list[dict[str, Any]], bad: int) -> str:
    parts = ['<h2 id="curves">Training curves</h2>']
    last = train_rows[-1] if train_rows else {}
    keys: list[str] = []
    for r in train_rows:
        keys += [k for k, v in r.items() if k not in SKIP_KEYS and k not in keys and is_number(v)]
    if keys:
        groups = group_keys(keys)
        parts.append(f"<p class=\"muted\">From metrics.jsonl: {len(train_rows)} rows"
                     + (f", {bad} unreadable lines skipped" if bad else "") + ".</p>")
        parts.append(img_tag(plot_groups(train_rows, groups), "loss and metric curves", "curves"))
        if last:
            parts.append("<h3>Last logged values</h3>" + kv_table({k: last[k] for k in keys if k in last}))
    else:
        parts.append('<p class="muted">No metrics.jsonl rows with numeric values in this run.</p>')
    return "\n".join(parts)


def samples_section(run: Path, max_grids: int) -> str:
    parts = ['<h2 id="samples">Sample grids over training</h2>']
    grids = sample_grids(run)
    if grids:
        for name, items in grids.items():
            shown = spread(items, max_grids)
            note = f" (showing {len(shown)} of {len(items)})" if len(shown) < len(items) else ""
            parts.append(f"<h3>{html.escape(name)}{note}</h3><div class=\"strip\">")
            for step, path in shown:
                parts.append(f"<figure>{img_tag(path.read_bytes(), f'{name} at step {step}', 'grid')}"
                             f"<figcaption>step {step}</figcaption></figure>")
            parts.append("</div>")
    else:
        parts.append('<p class="muted">No sample grids in RUN/samples (train with --sample-every N).</p>')
    return "\n".join(parts)


def evaluation_section(metrics: list[dict[str, Any]], run: Path) -> str:
    parts = ['<h2 id="evaluation">Evaluation</h2>']
    evals = eval_rows(metrics, run)
    if evals:
        parts.append(table(evals))

        def varies(k: str) -> bool:
            values = [r[k] for r in evals if is_number(r.get(k))]
            return len(values) >= 2 and max(values) > min(values)

        numeric = [k for k in dict.fromkeys(k for r in evals for k in r) if k != "step" and varies(k)]
        if numeric and sum(is_number(r.get("step")) for r in evals) >= 2:
            by_key = OrderedDict((k, [k]) for k in numeric)
            parts.append(img_tag(plot_groups(evals, by_key), "evaluation metrics over training", "curves"))
    else:
        parts.append('<p class="muted">No evaluation results yet (metrics.jsonl rows with an "eval" key, '
                     'or RUN/eval.jsonl).</p>')
    return "\n".join(parts)
