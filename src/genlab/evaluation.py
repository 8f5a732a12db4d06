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
    """uint8 images N x C x H x W (and labels) from an .npz or a folder of images.

    An .npz is validated before anything is scored: ``images`` must be numeric and
    finite, N x H x W or N x H x W x C / N x C x H x W with 1, 3 or 4 channels
    (alpha is dropped), uint8 or integers in 0..255, or floats in [0, 1];
    ``labels``, if present, one integer per image."""
    import zipfile

    from .pixels import check_labels, check_pixels

    if path.suffix == ".npz":
        if not path.is_file():
            raise DataError(f"{path} is not a file; pass an .npz written by numpy.savez")
        try:
            with np.load(path, allow_pickle=False) as data:
                files = list(data.files)
                if "images" not in files:
                    raise DataError(f"{path} has no 'images' array (it has {', '.join(files) or 'nothing'}); "
                                    f"save samples as images=...")
                arr = data["images"]
                raw_labels = data["labels"] if "labels" in files else None
        except DataError:
            raise
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(f"cannot read {path} ({reason[:120]}); pass an .npz of numeric arrays written by "
                            f"numpy.savez (no pickled objects)") from None
        return check_pixels(arr, path), check_labels(raw_labels, len(arr), path)
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
                 write: bool = True, memorisation: bool = True, pairs_out: str | Path | None = None) -> dict[str, Any]:
    """Evaluate a run, checkpoint, samples file or folder; or, with only `reference`,
    the real-vs-real floor (its `split` split against its train split).

    `reference` is any dataset spec with an optional ``:split`` (``digits``,
    ``mnist:test``, ``folder:PATH``). The family's own metrics (a VAE's ELBO
    and NLL, sequence scores) need no image features and are computed first;
    if the sample metrics then fail, the row keeps them and says why under
    ``"skipped"``. With `memorisation`, image samples also get the memorisation check
    (eval_memorisation.py) and their closest sample/training pairs as a PNG (`pairs_out`).
    """
    from .api import load
    from .data import split_spec

    names = [m for m in (metrics.split(",") if isinstance(metrics, str) else (metrics or [])) if m]
    result: dict[str, Any] = {}
    labels = None
    model = None
    info: dict[str, Any] = {}
    if target is None:
        if not reference:
            raise GenlabError("nothing to evaluate; pass RUN, a samples .npz/folder, or --ref DATASET for the floor")
        from .data import load_images

        spec, ref_split = split_spec(reference)
        images = load_images(spec, split=split, root=data_root).images[:n]
        reference = f"{spec}:{ref_split or 'train'}"
        info = {"what": f"real {spec} {split} split (floor)"}
    else:
        path = Path(target)
        if not path.exists():
            raise GenlabError(f"{path} does not exist; pass a run folder, a checkpoint or a samples .npz/folder")
        if _is_model_path(path):
            model = load(path, device=device)
            info = {"what": f"{model.family} samples", "family": model.family}
            dataset = model.data_info.get("dataset")
            images = None
            if family_metrics:
                result.update(_family_metrics(model, dataset, split, data_root, n, seed))
            if model.data_info.get("kind", "image") == "image":
                out = model.sample(n, seed=seed)
                images = out.get("images")
                labels = out.get("labels")
                reference = reference or (f"{dataset}:train" if dataset else None)
        else:
            images, labels = read_samples(path)
            images = images[:n]
            labels = labels[:n] if labels is not None else None
            info = {"what": f"samples in {path}"}
            if not reference:
                raise GenlabError(f"{path} holds samples but no dataset; pass --ref DATASET (e.g. fashion-mnist)")
    if images is not None:
        try:
            values, used = _sample_metrics(images, labels, names, reference, extractor, data_root, device)
            result.update(values)
            info["extractor"] = used
        except GenlabError as exc:
            if not result:
                raise
            info["skipped"] = str(exc)
        if memorisation and target is not None and "skipped" not in info:
            from .eval_memorisation import add_to_row

            add_to_row(result, info, images, reference, target, extractor=extractor, root=data_root, device=device,
                       pairs_out=pairs_out)
    info.update(n=int(images.shape[0]) if images is not None else 0, reference=reference)
    row = {"metrics": result, **info}
    if write and target is not None and model is not None:
        _append(Path(target), row)
    return row


def _sample_metrics(images, labels, names, reference, extractor, data_root, device) -> tuple[dict[str, float], str]:
    """Feature metrics of `images` against `reference`, and the name of the extractor used."""
    from . import metrics as M

    names = list(names) or list(DEFAULT_METRICS) + (["accuracy"] if labels is not None else [])
    if labels is None and "accuracy" in names:
        raise GenlabError("metric 'accuracy' needs labels: use a conditional model or an .npz with labels")
    if reference is None:
        raise GenlabError("no reference dataset known for these samples; pass --ref DATASET")
    needs = any(M.METRICS.get(m).needs_reference for m in names)
    ext, stats = M.prepare_reference(reference, extractor=extractor, root=data_root, needs_reference=needs,
                                     device=device)
    values = M.evaluate(images, reference=stats, metrics=names, extractor=ext, labels=labels, device=device)
    return values, ext.name


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
    lines = [f"{row.get('what', '')}: n={row.get('n')} reference={row.get('reference')}"
             + (f" extractor={row['extractor']}" if row.get("extractor") else "")]
    width = max([len(k) for k in row["metrics"]] + [6])
    lines.append(f"{'metric':<{width}}  value")
    for k, v in row["metrics"].items():
        lines.append(f"{k:<{width}}  {v:.6g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    if row.get("closest_pairs"):
        lines.append(f"closest sample/training pairs: {row['closest_pairs']}")
    if row.get("memorisation_skipped"):
        lines.append(f"memorisation check skipped: {row['memorisation_skipped']}")
    return "\n".join(lines)


class PeriodicEval(Callback):
    """`--eval-every N`: evaluate samples during training; keep the best weights.

    `prepare(model)` runs before training (genlab.train calls it): it refuses,
    in one line, data or metrics it cannot evaluate, builds the extractor
    (training a domain extractor on first use when the data has no shipped
    classifier) and the reference statistics of the training dataset's train
    split, and scores a few samples of the untrained model to prove every
    requested metric and `best_metric` come out. Then, at the first logging
    step at or after each multiple of N, it draws `n` samples, adds
    ``eval/<metric>`` to that step's log row, and when `best_metric` improves
    (lower is better for fid/kid, higher for the others) writes the weights to
    ``RUN/best/`` with the value in its config.json.
    """

    LOWER_IS_BETTER = {"fid", "kid", "kid_std"}
    #: samples of the untrained model scored by `prepare` (enough for k-NN metrics and a covariance)
    CHECK_N = 32

    def __init__(self, every: int, n: int = 2000, metrics: str = "fid", best_metric: str = "fid",
                 extractor: str = "auto"):
        self.every, self.n, self.extractor = every, n, extractor
        self.metrics = [m for m in metrics.split(",") if m]
        self.best_metric = best_metric
        self.lower_is_better = best_metric in self.LOWER_IS_BETTER
        self.best: float | None = None
        self.last_bucket = 0
        self.prepared: tuple[Any, Any] | None = None

    def prepare(self, model, root: str | None = None, device: str = "cpu") -> None:
        """Check that this evaluation can run on the model's data; build extractor and reference.

        Leaves the global RNG as it found it, so a run with --eval-every trains as one without.
        """
        with torch.random.fork_rng(devices=[]):
            self._prepare(model, root, device)

    def _prepare(self, model, root: str | None, device: str) -> None:
        from . import metrics as M

        kind = model.data_info.get("kind", "image")
        if kind != "image":
            raise GenlabError(f"--eval-every scores image samples, but {model.family} trains on {kind} data; "
                              "drop --eval-every (genlab eval RUN gives this family's own metrics)")
        if not self.metrics:
            raise GenlabError(f"--eval-metrics is empty; valid metrics: {', '.join(M.metric_names())}")
        chosen = [M.METRICS.get(m) for m in self.metrics]
        if "accuracy" in self.metrics and not model.conditional:
            raise GenlabError(f"--eval-metrics accuracy needs a conditional family; {model.family} is not")
        dataset = model.data_info.get("dataset")
        if not dataset:
            raise GenlabError("--eval-every needs the training dataset's name in the model's data description")
        ext, stats = M.prepare_reference(f"{dataset}:train", extractor=self.extractor, root=root, device=device,
                                         needs_reference=any(m.needs_reference for m in chosen))
        out = model.sample(self.CHECK_N, seed=0)
        values = M.evaluate(out["images"], reference=stats, extractor=ext, metrics=self.metrics,
                            labels=out.get("labels"), device=device)
        if self.best_metric not in values:
            raise GenlabError(f"--best-metric {self.best_metric!r} is not among what --eval-metrics "
                              f"{','.join(self.metrics)} gives ({', '.join(values)}); pick one of those")
        self.prepared = (ext, stats)

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
        if self.prepared is None:
            self.prepare(model, root=trainer.config.data_root, device=str(trainer.device))
        ext, stats = self.prepared
        out = model.sample(self.n, seed=0)
        return M.evaluate(out["images"], reference=stats, metrics=self.metrics, extractor=ext,
                          labels=out.get("labels"), device=str(trainer.device))

    def keep_best(self, trainer, step: int, values: dict[str, float]) -> None:
        value = values.get(self.best_metric)
        if value is None:
            return
        if self.best is None or (value < self.best if self.lower_is_better else value > self.best):
            self.best = value
            best_dir = trainer.run_dir / "best"
            tmp = trainer.run_dir / ".best-tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            model = trainer.model
            dataset = model.data_info.get("dataset")
            run = {k: v for k, v in trainer.run_config().items() if k in ("train", "command")}
            card_metrics = [{"name": k, "value": float(v), "step": step, "n": self.n, "reference": f"{dataset}:train"}
                            for k, v in values.items()]
            best = {"metric": self.best_metric, "value": value, "step": step}
            model.save_pretrained(tmp, extra={**run, "best": best}, metrics=card_metrics)
            shutil.rmtree(best_dir, ignore_errors=True)
            tmp.rename(best_dir)
