"""Model cards: the README.md that `save_pretrained` writes next to the weights.

The card opens with YAML front matter that tools can read (the Hugging Face
Hub reads ``library_name``, ``datasets``, ``tags`` and ``pipeline_tag``):
the library and its version, the family, the dataset, which weights the
folder holds (all of them, or only what sampling needs) and the metrics of
the run's evaluations. The body shows a sample grid (``samples.png``), the
command that trained the model, how to load it, the evaluation table and the
hyper-parameters.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import yaml

from ..modes import evaluating
from ..viz import save_grid

if TYPE_CHECKING:
    from .base import GenerativeModel

CARD = "README.md"
GRID = "samples.png"
GRID_SIZE = 16

PIPELINES = {"image": "unconditional-image-generation", "paired-image": "image-to-image",
             "unpaired-image": "image-to-image"}


def front_matter(meta: dict[str, Any], metrics: list[dict[str, Any]], generator_only: bool,
                 conditional: bool = False) -> dict[str, Any]:
    data = meta.get("data") or {}
    dataset = data.get("dataset") or data.get("name") or "unknown"
    kind = str(data.get("kind", "image"))
    head: dict[str, Any] = {"library_name": "genlab", "genlab_version": meta.get("genlab_version"),
                            "family": meta["family"], "dataset": dataset, "datasets": [dataset],
                            "tags": ["genlab", meta["family"], kind] + (["class-conditional"] if conditional else [])}
    if kind in PIPELINES and not conditional:
        head["pipeline_tag"] = PIPELINES[kind]
    head["weights"] = "generator-only" if generator_only else "full"
    if meta.get("command"):
        head["command"] = meta["command"]
    if metrics:
        head["metrics"] = metrics
    return head


def _table(rows: list[list[Any]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def render(meta: dict[str, Any], metrics: list[dict[str, Any]], generator_only: bool, grid: bool,
           conditional: bool = False) -> str:
    head = front_matter(meta, metrics, generator_only, conditional)
    family, dataset = meta["family"], head["dataset"]
    parts = ["---", yaml.safe_dump(head, sort_keys=False, allow_unicode=True).rstrip(), "---", "",
             f"# {family} on {dataset}", "",
             f"A `{family}` model trained with genlab {meta.get('genlab_version', '')} on `{dataset}`."]
    if grid:
        parts += ["", f"![samples]({GRID})", "", f"*{GRID}: samples drawn with seed 0 when this folder was written.*"]
    if meta.get("command"):
        parts += ["", "## How it was trained", "", "```bash", meta["command"], "```"]
    parts += ["", "## Use", "", "```python", "import genlab", "",
              'model = genlab.load("THIS_FOLDER")          # or: genlab sample THIS_FOLDER --n 64 --out grid.png',
              "out = model.sample(16, seed=0)", "```"]
    weights = ("only the weights sampling needs (the sampling generator or decoder); training, "
               "reconstruction and discriminator scores are not available from this folder"
               if generator_only else "every weight of the model (generator and discriminator, encoder and "
                                      "decoder, EMA copies)")
    parts += ["", "## Files", "", "- `config.json`: family, hyper-parameters and the data description",
              f"- `model.safetensors`: {weights}"]
    if metrics:
        rows = [[m.get("name"), f"{m['value']:.6g}" if isinstance(m.get("value"), float) else m.get("value"),
                 m.get("step"), m.get("n"), m.get("reference")] for m in metrics]
        parts += ["", "## Evaluation", "", _table(rows, ["metric", "value", "step", "samples", "reference"])]
    config = meta.get("config") or {}
    if config:
        parts += ["", "## Hyper-parameters", "", _table([[f"`{k}`", f"`{v}`"] for k, v in config.items()],
                                                          ["option", "value"])]
    return "\n".join(parts) + "\n"


def write_card(directory: Path, model: "GenerativeModel", meta: dict[str, Any],
               metrics: list[dict[str, Any]] | None = None, generator_only: bool = False) -> Path:
    """Write README.md (and samples.png when the model can show samples) into `directory`."""
    grid = _write_grid(model, directory / GRID)
    path = directory / CARD
    path.write_text(render(meta, list(metrics or []), generator_only, grid, bool(model.conditional)),
                    encoding="utf-8")
    return path


def _write_grid(model: "GenerativeModel", path: Path) -> bool:
    with evaluating(model):
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            images = model.preview(GRID_SIZE, None)
    if not images:
        return False
    save_grid(next(iter(images.values())), path)
    return True
