"""Run-level evaluation: what `genlab eval` and `--eval-every` do.

`evaluate_run` takes a run or checkpoint folder (it samples the model), or a
samples file/folder made by any tool (.npz with `images` [+ `labels`], or a
folder of PNGs), computes sample metrics with `genlab.metrics` against a
reference dataset, adds the family's own held-out metrics (a VAE's ELBO and
IWAE bound, a sequence model's scores) and, for runs, appends the result to
`metrics.jsonl` as a row with an ``"eval"`` key.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import DataError, GenlabError
from .training.callbacks import Callback

DEFAULT_METRICS = ("fid", "kid", "pr")


def read_samples(path: Path) -> tuple[torch.Tensor, torch.Tensor | None]:
    """uint8 images N x C x H x W (and labels) from an .npz or a folder of images."""
    if path.suffix == ".npz":
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read {path}: {exc}; pass an .npz written by numpy.savez") from None
        if "images" not in data:
            raise DataError(f"{path} has no 'images' array (it has {', '.join(data.files)}); save samples as images=...")
        arr = data["images"]
        if arr.ndim == 3:
            arr = arr[:, None]
        elif arr.ndim == 4 and arr.shape[-1] in (1, 3):
            arr = arr.transpose(0, 3, 1, 2)
        if arr.dtype != np.uint8:
            arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
        labels = torch.from_numpy(data["labels"].astype(np.int64)) if "labels" in data else None
        return torch.from_numpy(np.ascontiguousarray(arr)), labels
    if path.is_dir():
        from .data.images import load_folder

        data = load_folder(str(path))
        return data.images, None
    raise DataError(f"{path} is not a run, a checkpoint, an .npz of samples or a folder of images")


def _is_model_path(path: Path) -> bool:
    return (path / "model.safetensors").is_file() or (path / "checkpoints").is_dir()


def evaluate_run(target: str | Path | None, *, metrics: str | list[str] | None = None, n: int = 10000,
                 reference: str | None = None, extractor: str = "auto", seed: int = 0, split: str = "test",
                 family_metrics: bool = True, data_root: str | None = None, device: str = "cpu",
                 write: bool = True) -> dict[str, Any]:
    """Evaluate a run, checkpoint, samples file or folder; or, with only `reference`,
    the real-vs-real floor (its test split against its train split)."""
    from . import metrics as M
    from .api import load

    names = [m for m in (metrics.split(",") if isinstance(metrics, str) else (metrics or [])) if m]
    result: dict[str, Any] = {}
    labels = None
    model = None
    info: dict[str, Any] = {}
    if target is None:
        if not reference:
            raise GenlabError("nothing to evaluate; pass RUN, a samples .npz/folder, or --ref DATASET for the floor")
        from .data import load_images

        ref_name = reference.split(":")[0]
        images = load_images(ref_name, split=split, root=data_root).images[:n]
        reference = f"{ref_name}:train"
        info = {"what": f"real {ref_name} {split} split (floor)"}
    else:
        path = Path(target)
        if not path.exists():
            raise GenlabError(f"{path} does not exist; pass a run folder, a checkpoint or a samples .npz/folder")
        if _is_model_path(path):
            model = load(path, device=device)
            info = {"what": f"{model.family} samples", "family": model.family}
            dataset = model.data_info.get("dataset")
            images = None
            if model.data_info.get("kind", "image") == "image":
                out = model.sample(n, seed=seed)
                images = out.get("images")
                labels = out.get("labels")
                reference = reference or (f"{dataset}:train" if dataset else None)
            if family_metrics:
                result.update(_family_metrics(model, dataset, split, data_root, n, seed))
        else:
            images, labels = read_samples(path)
            images = images[:n]
            labels = labels[:n] if labels is not None else None
            info = {"what": f"samples in {path}"}
            if not reference:
                raise GenlabError(f"{path} holds samples but no dataset; pass --ref DATASET (e.g. fashion-mnist)")
    if images is not None:
        if not names:
            names = list(DEFAULT_METRICS)
            if labels is not None:
                names.append("accuracy")
        if labels is None and "accuracy" in names:
            raise GenlabError("metric 'accuracy' needs labels: use a conditional model or an .npz with labels")
        if reference is None:
            raise GenlabError("no reference dataset known for these samples; pass --ref DATASET")
        result.update(M.evaluate(images, reference=reference, metrics=names, extractor=extractor,
                                 labels=labels, device=device))
    info.update(n=int(images.shape[0]) if images is not None else 0, reference=reference)
    row = {"metrics": result, **info}
    if write and target is not None and model is not None:
        _append(Path(target), row)
    return row


def heldout_data(info: dict[str, Any], split: str, root: str | None = None):
    """The data a model was trained on, another split, prepared the same way."""
    from .data import load_dataset

    if info.get("source"):  # sequence data keeps its loader and options
        from .data.sequences import reload_source

        return reload_source(info, split)
    opts = {}
    if info.get("kind", "image") == "image" and info.get("shape"):
        opts["image_size"] = int(info["shape"][-1])
    return load_dataset(info["dataset"], root=root, split=split, **opts)


def _family_metrics(model, dataset, split, data_root, n, seed) -> dict[str, float]:
    if not dataset:
        return {}
    try:
        data = heldout_data(model.data_info, split, data_root)
    except DataError as exc:
        print(f"genlab: no held-out data for family metrics ({exc})", file=sys.stderr)
        return {}
    return {k: float(v) for k, v in model.evaluate(data, n=min(n, len(data)), seed=seed).items()}


def _append(target: Path, row: dict[str, Any]) -> None:
    run_dir = target if (target / "checkpoints").is_dir() else target.parent.parent
    log = run_dir / "metrics.jsonl"
    if not log.parent.is_dir():
        return
    step = None
    if (target / "checkpoints").is_dir() or target.name.startswith("step-"):
        from .training.checkpoint import resolve

        name = resolve(target).name
        step = int(name.split("-")[1]) if name.startswith("step-") else None
    with open(log, "a") as f:
        f.write(json.dumps({"step": step, "time": time.time(), "eval": row["metrics"],
                            "n": row.get("n"), "reference": row.get("reference")}) + "\n")


def format_table(row: dict[str, Any]) -> str:
    lines = [f"{row.get('what', '')}: n={row.get('n')} reference={row.get('reference')}"]
    width = max([len(k) for k in row["metrics"]] + [6])
    lines.append(f"{'metric':<{width}}  value")
    for k, v in row["metrics"].items():
        lines.append(f"{k:<{width}}  {v:.6g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    return "\n".join(lines)


class PeriodicEval(Callback):
    """`--eval-every N`: evaluate samples during training; keep the best weights.

    At the first logging step at or after each multiple of N, draws `n`
    samples, computes `metrics` against the training dataset's reference
    statistics (cached on disk), adds ``eval/<metric>`` to that step's log row,
    and when `best_metric` improves (lower is better for fid/kid, higher for
    the others) writes the weights to ``RUN/best/`` with the value in its
    config.json.
    """

    LOWER_IS_BETTER = {"fid", "kid", "kid_std"}

    def __init__(self, every: int, n: int = 2000, metrics: str = "fid", best_metric: str = "fid",
                 extractor: str = "auto"):
        self.every, self.n, self.extractor = every, n, extractor
        self.metrics = [m for m in metrics.split(",") if m]
        self.best_metric = best_metric
        self.lower_is_better = best_metric in self.LOWER_IS_BETTER
        self.best: float | None = None
        self.last_bucket = 0

    def on_log(self, trainer, step, logs):
        bucket = step // self.every
        if bucket == self.last_bucket or trainer.rank != 0:
            return
        self.last_bucket = bucket
        values = self.measure(trainer)
        for k, v in values.items():
            logs[f"eval/{k}"] = float(v)
        self.keep_best(trainer, step, values)

    def measure(self, trainer) -> dict[str, float]:
        """The metrics of `n` samples (seed 0) of the model as it is now."""
        from . import metrics as M

        model = trainer.model
        dataset = model.data_info.get("dataset")
        out = model.sample(self.n, seed=0)
        return M.evaluate(out["images"], reference=f"{dataset}:train", metrics=self.metrics,
                          extractor=self.extractor, labels=out.get("labels"), device=str(trainer.device))

    def keep_best(self, trainer, step: int, values: dict[str, float]) -> None:
        value = values.get(self.best_metric)
        if value is None:
            return
        if self.best is None or (value < self.best if self.lower_is_better else value > self.best):
            self.best = value
            best_dir = trainer.run_dir / "best"
            tmp = trainer.run_dir / ".best-tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            trainer.model.save_pretrained(tmp, extra={"best": {"metric": self.best_metric, "value": value,
                                                                "step": step}})
            shutil.rmtree(best_dir, ignore_errors=True)
            tmp.rename(best_dir)
