"""Run-level evaluation: what `genlab eval` does (``--eval-every`` is
`genlab.training.periodic_eval`).

`evaluate_run` takes a run or checkpoint folder (it samples the model), or a
samples file/folder made by any tool (.npz with `images` [+ `labels`], or a
folder of PNGs), computes sample metrics with `genlab.metrics` against a
reference dataset, adds the family's own held-out metrics (a VAE's ELBO and
IWAE bound, a sequence model's scores) and, for runs, appends the result to
`metrics.jsonl` as a row with an ``"eval"`` key. Three loaders find what to
score (`floor_input`, `model_input`, `samples_input`); `score` is the one
tail that measures it.
"""

from __future__ import annotations

import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import metrics as M
from .api import load
from .capabilities import LatentSamplers
from .data import heldout_data, load_images, split_spec
from .data.images import load_folder
from .errors import DataError, GenlabError
from .eval_memorisation import add_to_row
from .pixels import check_labels, check_pixels
from .samplers import choose_sampler
from .training.checkpoint import resolve
from .training.rundir import RunDir

DEFAULT_METRICS = ("fid", "kid", "pr")


def read_samples(path: Path) -> tuple[torch.Tensor, torch.Tensor | None]:
    """uint8 images N x C x H x W (and labels) from an .npz or a folder of images.

    An .npz is validated before anything is scored: ``images`` must be numeric and
    finite, N x H x W or N x H x W x C / N x C x H x W with 1, 3 or 4 channels
    (alpha is dropped), uint8 or integers in 0..255, or floats in [0, 1];
    ``labels``, if present, one integer per image."""
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
        data = load_folder(str(path))
        return data.images, None
    raise DataError(f"{path} is not a run, a checkpoint, an .npz of samples or a folder of images")


def _is_model_path(path: Path) -> bool:
    return (path / "model.safetensors").is_file() or (path / "checkpoints").is_dir()


def evaluate_run(target: str | Path | None, *, metrics: str | list[str] | None = None, n: int = 10000,
                 reference: str | None = None, extractor: str = "auto", seed: int = 0, split: str = "test",
                 family_metrics: bool = True, data_root: str | None = None, device: str = "cpu",
                 write: bool = True, memorisation: bool = True, pairs_out: str | Path | None = None,
                 sampler: str | None = None) -> dict[str, Any]:
    """Evaluate a run, checkpoint, samples file or folder; or, with only `reference`,
    the real-vs-real floor (its `split` split against its train split).

    `reference` is any dataset spec with an optional ``:split`` (``digits``,
    ``mnist:test``, ``folder:PATH``). The family's own metrics (a VAE's ELBO
    and NLL, sequence scores) need no image features and are computed first;
    if the sample metrics then fail, the row keeps them and says why under
    ``"skipped"``. With `memorisation`, image samples also get the memorisation check
    (eval_memorisation.py) and their closest sample/training pairs as a PNG (`pairs_out`).
    `sampler` (vae, cvae: prior | gmm) overrides the model's default latent sampler; the row
    records the one used under ``"sampler"``.
    """
    if sampler is not None and (target is None or not _is_model_path(Path(target))):
        raise GenlabError("--sampler chooses how a model samples; pass a run or checkpoint folder, or drop it")
    if target is None:
        found = floor_input(reference, split, data_root, n)
    else:
        path = Path(target)
        if not path.exists():
            raise GenlabError(f"{path} does not exist; pass a run folder, a checkpoint or a samples .npz/folder")
        if _is_model_path(path):
            found = model_input(path, reference, split, data_root, n, seed, family_metrics, device, sampler)
        else:
            found = samples_input(path, reference, n)
    row = score(found, metrics, extractor, data_root, device)
    if memorisation and target is not None and found.images is not None and "skipped" not in row:
        add_to_row(row["metrics"], row, found.images, found.reference, target, extractor=extractor, root=data_root,
                   device=device, pairs_out=pairs_out)
    if write and found.model is not None:
        _append(Path(target), row)
    return row


@dataclass
class EvalInput:
    """What one of the three loaders found: images to score (or None), their labels, the
    reference dataset, the row's description and metrics already measured (the family's)."""

    images: torch.Tensor | None
    labels: torch.Tensor | None
    reference: str | None
    info: dict[str, Any]
    result: dict[str, Any] = field(default_factory=dict)
    model: Any = None


def floor_input(reference: str | None, split: str, data_root: str | None, n: int) -> EvalInput:
    """Real images of `reference`'s `split` split, scored against its train split (the floor)."""
    if not reference:
        raise GenlabError("nothing to evaluate; pass RUN, a samples .npz/folder, or --ref DATASET for the floor")
    spec, ref_split = split_spec(reference)
    images = load_images(spec, split=split, root=data_root).images[:n]
    return EvalInput(images, None, f"{spec}:{ref_split or 'train'}", {"what": f"real {spec} {split} split (floor)"})


def model_input(path: Path, reference: str | None, split: str, data_root: str | None, n: int, seed: int,
                family_metrics: bool, device: str, sampler: str | None = None) -> EvalInput:
    """Samples of the model in a run or checkpoint folder, and the family's own metrics."""
    model = load(path, device=device)
    note = choose_sampler(model, sampler, path)
    if note:
        print(f"genlab: note: {note}", file=sys.stderr)
    found = EvalInput(None, None, reference, {"what": f"{model.family} samples", "family": model.family},
                      model=model)
    if isinstance(model, LatentSamplers):
        found.info["sampler"] = model.sampler_in_use()
    dataset = model.data_info.get("dataset")
    if family_metrics:
        found.result.update(_family_metrics(model, dataset, split, data_root, n, seed))
    if model.data_info.get("kind", "image") == "image":
        out = model.sample(n, seed=seed)
        found.images, found.labels = out.get("images"), out.get("labels")
        found.reference = reference or (f"{dataset}:train" if dataset else None)
    return found


def samples_input(path: Path, reference: str | None, n: int) -> EvalInput:
    """Samples made by any tool: an .npz or a folder of images."""
    images, labels = read_samples(path)
    if not reference:
        raise GenlabError(f"{path} holds samples but no dataset; pass --ref DATASET (e.g. fashion-mnist)")
    return EvalInput(images[:n], labels[:n] if labels is not None else None, reference,
                     {"what": f"samples in {path}"})


def score(found: EvalInput, metrics: str | list[str] | None, extractor: str, data_root: str | None,
          device: str) -> dict[str, Any]:
    """The row of an evaluation: sample metrics of what a loader found, after its own metrics."""
    names = [m for m in (metrics.split(",") if isinstance(metrics, str) else (metrics or [])) if m]
    result, info, images = dict(found.result), dict(found.info), found.images
    if images is not None:
        try:
            values, used = _sample_metrics(images, found.labels, names, found.reference, extractor, data_root,
                                           device)
            result.update(values)
            info["extractor"] = used
        except GenlabError as exc:
            if not result:
                raise
            info["skipped"] = str(exc)
    info.update(n=int(images.shape[0]) if images is not None else 0, reference=found.reference)
    return {"metrics": result, **info}


def _sample_metrics(images, labels, names, reference, extractor, data_root, device) -> tuple[dict[str, float], str]:
    """Feature metrics of `images` against `reference`, and the name of the extractor used."""
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
    run_dir = RunDir(target if (target / "checkpoints").is_dir() else target.parent.parent)
    if not run_dir.path.is_dir():
        return
    step = None
    if (target / "checkpoints").is_dir() or target.name.startswith("step-"):
        name = resolve(target).name
        step = int(name.split("-")[1]) if name.startswith("step-") else None
    entry = {"step": step, "time": time.time(), "eval": row["metrics"], "n": row.get("n"),
             "reference": row.get("reference")}
    if row.get("sampler"):
        entry["sampler"] = row["sampler"]
    run_dir.append(entry)


def format_table(row: dict[str, Any]) -> str:
    lines = [f"{row.get('what', '')}: n={row.get('n')} reference={row.get('reference')}"
             + (f" extractor={row['extractor']}" if row.get("extractor") else "")
             + (f" sampler={row['sampler']}" if row.get("sampler") else "")]
    width = max([len(k) for k in row["metrics"]] + [6])
    lines.append(f"{'metric':<{width}}  value")
    for k, v in row["metrics"].items():
        lines.append(f"{k:<{width}}  {v:.6g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    if row.get("closest_pairs"):
        lines.append(f"closest sample/training pairs: {row['closest_pairs']}")
    if row.get("memorisation_skipped"):
        lines.append(f"memorisation check skipped: {row['memorisation_skipped']}")
    return "\n".join(lines)
