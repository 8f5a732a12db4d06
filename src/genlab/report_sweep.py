"""The sweep section of `genlab report SWEEP_DIR`: one self-contained HTML page with the
sweep's settings and search space, the best configuration, the top trials, the
parameter importances (fANOVA), the optimisation history and the slice plots."""

from __future__ import annotations

import html
import time
from pathlib import Path

from .report_page import img_tag, kv_table, output_path, table, write_page
from .search_space import describe
from .sweep import importances, open_sweep, trial_rows, write_best, write_plots
from .sweep.spec import SPEC_FILE


def is_sweep_dir(path: str | Path) -> bool:
    return (Path(path) / SPEC_FILE).is_file()


def sweep_sections(sweep_dir: Path, top: int = 20, storage: str | None = None) -> list[str]:
    """The HTML parts of the sweep report (figures refreshed from the study)."""
    study = open_sweep(sweep_dir, storage)
    spec = study.spec
    rows = trial_rows(study)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    parts = ['<h2 id="sweep">Sweep</h2>',
             kv_table({"study": study.name, "family": spec.family, "data": spec.data,
                       "budget": " ".join(f"--{k.replace('_', '-')} {v}" for k, v in spec.budget.items()),
                       "fixed options": ", ".join(f"{k}={v}" for k, v in spec.fixed.items()) or None,
                       "metric": f"{spec.metric} ({spec.direction}), {spec.eval_n} samples every "
                                 f"{spec.eval_every} steps",
                       "pruner": spec.pruner, "trials": ", ".join(f"{n} {s}" for s, n in counts.items())}),
             "<h3>Search space</h3>",
             kv_table({name: describe(dist) for name, dist in spec.space.items()})]
    best_file = write_best(study, sweep_dir)
    parts.append('<h2 id="best">Best configuration</h2>')
    if best_file is not None:
        parts.append(f"<p class=\"muted\"><code>{html.escape(str(best_file))}</code>: "
                     f"<code>genlab train {html.escape(spec.family)} --config {html.escape(best_file.name)}</code>"
                     f"</p><pre>{html.escape(best_file.read_text())}</pre>")
    else:
        parts.append('<p class="muted">No trial has finished yet.</p>')
    parts.append('<h2 id="trials">Top trials</h2>')
    shown = [{"trial": r["trial"], "state": r["state"], spec.metric: r["value"], "step": r["step"],
              "minutes": r["minutes"], **r["params"], **({"error": r["error"]} if r["error"] else {})}
             for r in rows[:top]]
    parts.append(table(shown) if shown else '<p class="muted">No trials.</p>')
    if len(rows) > top:
        parts.append(f'<p class="muted">{len(rows) - top} more trials not shown.</p>')
    plots = write_plots(study, sweep_dir)
    values = importances(study)
    parts.append('<h2 id="importances">Which options matter</h2>')
    if values and "importances" in plots:
        parts.append(f'<p class="muted">fANOVA importances of the searched options for {html.escape(spec.metric)} '
                     f'over the finished trials (they sum to 1).</p>')
        parts.append(img_tag(plots["importances"].read_bytes(), "parameter importances", "curves"))
    else:
        parts.append('<p class="muted">Importances need at least 3 finished trials that differ.</p>')
    for key, title, alt in (("history", "Optimisation history", "optimisation history"),
                            ("slices", "Slice plots", "slice plots")):
        parts.append(f'<h2 id="{key}">{title}</h2>')
        if key in plots:
            parts.append(img_tag(plots[key].read_bytes(), alt, "curves"))
        else:
            parts.append('<p class="muted">No finished trials yet.</p>')
    return parts


def build_sweep_report(sweep_dir: str | Path, out: str | Path | None = None, storage: str | None = None) -> Path:
    """Write the report of a sweep folder to `out` (default SWEEP_DIR/report.html)."""
    sweep_dir = Path(sweep_dir)
    out = output_path(out, sweep_dir)
    title = f"genlab sweep report: {sweep_dir.name}"
    parts = [f"<h1>{html.escape(title)}</h1>",
             f'<p class="muted">sweep folder <code>{html.escape(str(sweep_dir.resolve()))}</code> · written '
             f'{time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}</p>'] + sweep_sections(sweep_dir, storage=storage)
    return write_page(out, title, parts)
