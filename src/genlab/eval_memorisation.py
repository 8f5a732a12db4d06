"""The memorisation check of `genlab eval`: samples against the training images.

For image samples scored against a dataset's train split, the samples, every
training image and the dataset's test split go through the same extractor as
the other metrics; `genlab.metrics.memorisation` compares each sample's
nearest-training-image distance with the test images' (``memorised_p1``,
``memorised_p5``, ``nn_ratio``; docs/metrics.md defines them). The features
of all training images are cached like reference statistics. The 8 samples
closest to a training image are saved beside the evaluation as one PNG: the
samples on the top row, their nearest training images below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from . import metrics as M
from .data import split_spec
from .errors import DataError, GenlabError
from .io import atomic_path
from .metrics.memorisation import check
from .metrics.reference import dataset_reference, load_reference_data
from .training.checkpoint import resolve
from .viz import save_grid

PAIRS = 8


def pairs_path(target: str | Path) -> Path:
    """Where the closest pairs of an evaluation of `target` go: RUN/eval/closest-train-pairs-stepN.png
    for a run or checkpoint (a checkpoint folder itself takes no extra files), beside a samples file or
    folder as SAMPLES.closest-train-pairs.png."""
    path = Path(target)
    if (path / "checkpoints").is_dir() or path.parent.name == "checkpoints":

        run = path if (path / "checkpoints").is_dir() else path.parent.parent
        name = resolve(path).name
        step = f"-step{int(name.split('-')[1]):07d}" if name.startswith("step-") and name[5:].isdigit() else ""
        return run / "eval" / f"closest-train-pairs{step}.png"
    if (path / "model.safetensors").is_file():  # a pretrained folder
        return path.parent / f"{path.name}.closest-train-pairs.png"
    return path.parent / f"{path.stem if path.is_file() else path.name}.closest-train-pairs.png"


def add_to_row(result: dict[str, Any], info: dict[str, Any], images: torch.Tensor, reference: str | None,
               target: str | Path, *, extractor: Any = "auto", root: str | None = None, device: str = "cpu",
               pairs_out: str | Path | None = None) -> None:
    """Add the check's scores to `result` and the pairs' path to `info`; when it cannot run (no
    reference, no test split), say why under ``info["memorisation_skipped"]``."""
    if not reference:
        return
    try:
        scores, written = check_samples(images, reference, extractor=extractor, root=root, device=device,
                                        pairs_out=Path(pairs_out) if pairs_out else pairs_path(target))
    except GenlabError as exc:
        info["memorisation_skipped"] = str(exc)
        return
    result.update(scores)
    if written is not None:
        info["closest_pairs"] = str(written)


def check_samples(images: torch.Tensor, reference: str, *, extractor: Any = "auto", root: str | None = None,
                  device: str = "cpu", pairs_out: Path | None = None) -> tuple[dict[str, float], Path | None]:
    """``memorised_p1/_p5`` and ``nn_ratio`` of `images` against `reference` (a dataset spec whose
    split is the training split) and its test split; writes the closest pairs to `pairs_out`."""
    name, split = split_spec(reference)
    split = split or "train"
    if split == "test":
        raise GenlabError("the memorisation check compares samples with the training split; --ref names the test split")
    ext, _ = M.prepare_reference(f"{name}:{split}", extractor=extractor, root=root, needs_reference=False,
                                 device=device)
    train_images = load_reference_data(name, split, root)[0]
    try:
        test_images = load_reference_data(name, "test", root)[0]
    except DataError as exc:
        raise GenlabError(f"{name} has no test split to compare with ({str(exc)[:100]})") from None
    # every training row (not the reference's 10,000-row subset), cached under the content like the statistics
    train = dataset_reference(name, split, extractor=ext, images=train_images, max_features=len(train_images),
                              device=device).features
    test = dataset_reference(name, "test", extractor=ext, images=test_images, max_features=len(test_images),
                             device=device).features
    samples = ext.extract(images, device=device).features.double().numpy()
    report = check(samples, train, test)
    written = None
    if pairs_out is not None:
        written = save_pairs(images, train_images, report.closest(PAIRS), pairs_out)
    return report.scores(), written


def save_pairs(samples: torch.Tensor, train: torch.Tensor, pairs: list[tuple[int, int, float]], out: Path) -> Path:
    """Samples (top row) above their nearest training images (bottom row), as one PNG."""
    def unit(x: torch.Tensor) -> torch.Tensor:
        return x.float() / 255 if not x.is_floating_point() else x.float()

    top = torch.stack([unit(samples[i]) for i, _, _ in pairs])
    bottom = torch.stack([unit(train[j]) for _, j, _ in pairs])
    if bottom.shape[1:] != top.shape[1:]:  # samples drawn at another size or channel count than the data

        bottom = F.interpolate(bottom, size=tuple(top.shape[-2:]), mode="bilinear", antialias=True,
                               align_corners=False)
        if bottom.shape[1] != top.shape[1]:
            bottom = bottom.mean(1, keepdim=True) if top.shape[1] == 1 else bottom.expand(-1, top.shape[1], -1, -1)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        save_grid(torch.cat([top, bottom]), tmp, nrow=len(pairs))
    return out
