"""Writing samples: a PNG grid, a folder of PNGs, or an .npz archive.

The .npz holds ``images`` as uint8 N x H x W (grey) or N x H x W x C
(colour) and, for conditional families, ``labels``; other arrays a family
returns (sequences, ...) are written under their own names.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .errors import GenlabError


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """N x C x H x W floats in [0, 1] -> uint8 N x H x W [x C]."""
    arr = (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu()
    arr = arr.permute(0, 2, 3, 1).numpy()
    return arr[..., 0] if arr.shape[-1] == 1 else arr


def check_writable(out: Path) -> None:
    """Fail early, in one line, when `out` cannot be written."""
    probe = out if out.is_dir() else out.parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        raise GenlabError(f"cannot write to {out}: {probe} is not a writable folder; choose another --out")


def save_samples(samples: dict[str, torch.Tensor], out: str | Path, model=None) -> Path:
    """Write samples by the suffix of `out`: .npz, .png/.jpg grid, a folder of PNGs,
    .csv (sequence families) or .txt (token families, one sample per line)."""
    out = Path(out)
    check_writable(out)
    suffix = out.suffix.lower()
    images = samples.get("images")
    if suffix == ".csv" and "sequences" in samples:
        from .explore.sequences import save_sequences_csv

        columns = (model.data_info.get("columns") if model is not None else None)
        return save_sequences_csv(samples, out, columns)
    if suffix == ".txt" and "tokens" in samples:
        from .explore.sequences import save_text

        if model is None or not hasattr(model, "decode_text"):
            raise GenlabError("writing text needs the model that made the tokens; use genlab sample RUN --out words.txt")
        return save_text(model.decode_text(samples["tokens"]), out)
    if suffix == ".npz":
        arrays = {}
        for k, v in samples.items():
            if k == "images":
                arrays[k] = to_uint8(v)
            elif isinstance(v, torch.Tensor):
                arrays[k] = v.cpu().numpy()
            else:
                arrays[k] = np.asarray(v)
        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(out, **arrays)
        return out
    if images is None:
        other = "samples.csv" if "sequences" in samples else "words.txt" if "tokens" in samples else "samples.npz"
        raise GenlabError(f"this model's samples are not images; write them to {other} or a .npz file instead of {out}")
    if suffix in (".png", ".jpg", ".jpeg"):
        from .explore.grid import save_grid

        return save_grid(images, out)
    if suffix:
        raise GenlabError(f"unknown output type {suffix!r}; use grid.png, samples.npz or a folder/ "
                          f"(samples.csv / words.txt for sequence families)")
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    arr = to_uint8(images)
    labels = samples.get("labels")
    for i, a in enumerate(arr):
        name = f"{i:06d}" + (f"_class{int(labels[i])}" if labels is not None else "") + ".png"
        Image.fromarray(a).save(out / name)
    return out
