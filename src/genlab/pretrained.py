"""`genlab export RUN --format pretrained`: a shareable folder with a model card.

The folder is what `save_pretrained` writes (config.json, model.safetensors,
README.md with a sample grid), filled from the run's newest good checkpoint,
with the metrics of the run's evaluations on the card: the latest
`genlab eval` of the run and the last value of each periodic evaluation
(``--eval-every``). ``generator_only=True`` keeps only the weights sampling
needs. `genlab.load` and ``Family.from_pretrained`` read both kinds.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from .api import load
from .errors import GenlabError
from .models.base import GenerativeModel
from .training.checkpoint import resolve
from .training.rundir import RunDir


def run_evaluations(run_dir: Path) -> list[dict[str, Any]]:
    """Metrics of a run's evaluations, from its metrics.jsonl (empty if it has none)."""
    latest_eval: dict[str, Any] | None = None
    periodic: dict[str, dict[str, Any]] = {}
    for row in RunDir(run_dir).rows():
        if isinstance(row.get("eval"), dict):
            latest_eval = row
        for key, value in row.items():
            if key.startswith("eval/") and isinstance(value, (int, float)):
                periodic[key[5:]] = {"name": key[5:], "value": float(value), "step": row.get("step"),
                                     "source": "periodic evaluation during training"}
    found: list[dict[str, Any]] = []
    if latest_eval is not None:
        for name, value in latest_eval["eval"].items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                found.append({"name": name, "value": float(value), "step": latest_eval.get("step"),
                              "n": latest_eval.get("n"), "reference": latest_eval.get("reference"),
                              "source": "genlab eval"})
    done = {m["name"] for m in found}
    found += [m for name, m in periodic.items() if name not in done]
    return found


def _run_dir_of(path: Path, checkpoint: Path) -> Path:
    """The run folder a checkpoint belongs to (RUN/checkpoints/step-N -> RUN), else the path given."""
    if checkpoint.parent.name == "checkpoints":
        return checkpoint.parent.parent
    return path


def export_pretrained(run: str | Path, out: str | Path, generator_only: bool = False,
                      device: str = "cpu") -> tuple[GenerativeModel, Path]:
    """Write `run`'s newest good checkpoint to the new folder `out` as a pretrained folder with a card."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise GenlabError(f"--out {out} already exists and is not an empty folder; choose a new folder")
    checkpoint = resolve(run)
    model = load(checkpoint, device=device)
    metrics = run_evaluations(_run_dir_of(Path(run), checkpoint))
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(tmp, generator_only=generator_only, metrics=metrics)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise GenlabError(f"cannot write {out} ({exc.strerror or exc}); choose a writable --out") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return model, out
