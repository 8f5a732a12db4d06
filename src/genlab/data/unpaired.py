"""Unpaired image-to-image data: two domains A and B (CycleGAN's setting).

Datasets (kind ``"unpaired-image"``):

- ``unpaired:PATH``: the layout the CycleGAN datasets ship in, ``PATH/trainA``,
  ``PATH/trainB``, ``PATH/testA``, ``PATH/testB`` (each read with
  `genlab.data.images.load_folder`). Split ``train`` reads trainA/trainB,
  ``test`` reads testA/testB.
- ``edges2fashion``: a built-in, measurable task made from Fashion-MNIST.
  Domain A is an edge map of an item computed here (Canny-like: Gaussian
  smoothing, Sobel gradient, non-maximum suppression, threshold at 15% of
  the image's strongest edge; thin white lines on black, like the items'
  black background), domain B is the item itself. In the train split the two domains come from disjoint images:
  the first half of Fashion-MNIST's training indices give the A edge maps,
  the second half the B items, so no pair exists at training time. The test
  split keeps the pairs (edge_i, item_i, label_i) of Fashion-MNIST's test
  split, so a translation A -> B can be scored against the true item.

The tensors are ``"a"`` and ``"b"`` (uint8, N x C x H x W; floats in [-1, 1]
after `prepare()`) of equal length, because the Trainer's batch iterator
draws one index for all tensors. In unpaired training data each side is
shuffled independently at load time (the shorter side topped up by random
repeats), so a shared index pairs nothing. ``"a_source"``/``"b_source"``
(edges2fashion only) record which Fashion-MNIST image each item came from;
``"y"`` holds the test split's labels. Neither is handed to the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DataError
from ..registry import DATASETS
from .base import TensorData
from .images import FASHION_CLASSES, fashion_mnist, load_folder, resize_uint8, uint8_to_unit_range

KIND = "unpaired-image"
#: fixed seed of the independent shuffles of the two training domains
SHUFFLE_SEED = 1234
EDGE_SIGMA = 1.0
EDGE_THRESHOLD = 0.15
_EDGES_CACHE: dict[tuple, tuple[dict[str, torch.Tensor], dict[str, Any]]] = {}


class UnpairedData(TensorData):
    """Two image domains as uint8 tensors ``a`` and ``b`` of equal length."""

    @property
    def a(self) -> torch.Tensor:
        return self.tensors["a"]

    @property
    def b(self) -> torch.Tensor:
        return self.tensors["b"]

    @property
    def paired(self) -> bool:
        return bool(self.info.get("paired"))

    def on_device(self, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        """The two domains (uint8) and the labels, if any; the source indices stay behind."""
        return {k: v.to(device) for k, v in self.tensors.items() if k in ("a", "b", "y")}

    def to_model(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {**batch, **{k: uint8_to_unit_range(batch[k]) for k in ("a", "b")}}


def unpaired_info(name: str, a: torch.Tensor, b: torch.Tensor, split: str, paired: bool,
                  **extra: Any) -> dict[str, Any]:
    if a.shape[-2:] != b.shape[-2:]:
        raise DataError(f"domains A and B of {name} have different image sizes {tuple(a.shape[-2:])} and "
                        f"{tuple(b.shape[-2:])}; set --image-size to resize both")
    info: dict[str, Any] = {"kind": KIND, "dataset": name, "split": split,
                            "shape": list(b.shape[1:]), "shape_a": list(a.shape[1:]), "shape_b": list(b.shape[1:]),
                            "num_classes": 0, "paired": paired}
    info.update(extra)
    return info


def match_lengths(a: torch.Tensor, b: torch.Tensor,
                  generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Top up the shorter side to the longer one's length: random repeats
    (`generator` given) or cycling through it in order (None)."""
    n = max(len(a), len(b))

    def grow(x: torch.Tensor) -> torch.Tensor:
        if len(x) == n:
            return x
        if generator is None:
            idx = torch.arange(n) % len(x)
        else:
            idx = torch.cat([torch.arange(len(x)), torch.randint(len(x), (n - len(x),), generator=generator)])
        return x[idx]

    return grow(a), grow(b)


# ---------------------------------------------------------------------------
# unpaired:PATH


@DATASETS.register("unpaired")
def unpaired(path: str = "", root: str | None = None, split: str = "train", image_size: int | None = None,
             strict: bool = False, workers: int | None = None) -> UnpairedData:
    """``PATH/{train,test}{A,B}/`` folders of images, CycleGAN's distribution layout."""
    if not path:
        raise DataError("unpaired dataset needs a path: use unpaired:PATH "
                        "(a folder with trainA/ trainB/ testA/ testB/)")
    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r} for unpaired:{path}; valid splits: train, test")
    base = Path(path).expanduser()
    if not base.is_dir():
        raise DataError(f"folder {str(base)!r} does not exist; unpaired:PATH needs a folder with "
                        f"{split}A/ and {split}B/ subfolders")
    for side in ("A", "B"):
        if not (base / f"{split}{side}").is_dir():
            raise DataError(f"{str(base)!r} has no {split}{side}/ folder; unpaired:PATH needs {split}A/ and "
                            f"{split}B/ folders of images (CycleGAN's layout)")
    sides = {}
    for side in ("A", "B"):
        folder = base / f"{split}{side}"
        size = image_size if image_size is not None or side == "A" else int(sides["A"].shape[-1])
        data = load_folder(str(folder), split=split, image_size=size, strict=strict,
                           name=f"unpaired:{path}/{split}{side}", workers=workers)
        sides[side] = data.images
    a, b = sides["A"], sides["B"]
    counts = {"size_a": len(a), "size_b": len(b)}
    if split == "train":
        g = torch.Generator().manual_seed(SHUFFLE_SEED)
        a = a[torch.randperm(len(a), generator=g)]
        b = b[torch.randperm(len(b), generator=g)]
        a, b = match_lengths(a, b, g)
    else:
        a, b = match_lengths(a, b, None)
    info = unpaired_info(f"unpaired:{path}", a, b, split, paired=False, **counts)
    return UnpairedData(f"unpaired:{path}", {"a": a.contiguous(), "b": b.contiguous()}, info)


# ---------------------------------------------------------------------------
# edges2fashion


def _shift_sum(x: np.ndarray, weights: np.ndarray, axis: int) -> np.ndarray:
    """Zero-padded 1-D correlation of N x H x W `x` with odd-length `weights` along `axis`
    (elementwise sums in a fixed order: identical per image whatever the batch)."""
    r = len(weights) // 2
    pad = [(0, 0)] * 3
    pad[axis] = (r, r)
    p = np.pad(x, pad)
    n = x.shape[axis]
    out = np.zeros_like(x)
    for i, w in enumerate(weights):
        if w:
            window = p[:, i:i + n] if axis == 1 else p[:, :, i:i + n]
            out += x.dtype.type(w) * window
    return out


def edge_maps(images: torch.Tensor, sigma: float = EDGE_SIGMA, threshold: float = EDGE_THRESHOLD) -> torch.Tensor:
    """uint8 N x 1 x H x W items -> uint8 edge maps (255 on edges, 0 elsewhere).

    Canny-like: Gaussian smoothing (`sigma` pixels, radius 4 sigma), Sobel
    gradient, thinning by non-maximum suppression across the edge (gradient
    direction in 4 bins), then a threshold at `threshold` times each image's
    largest magnitude. Each image's map depends on that image only.
    """
    if images.dim() != 4 or images.shape[1] != 1:
        raise DataError("edge_maps expects grey images shaped N x 1 x H x W")
    x = images[:, 0].numpy().astype(np.float32) / np.float32(255.0)
    radius = max(1, int(4 * sigma + 0.5))
    gauss = np.exp(-np.arange(-radius, radius + 1) ** 2 / (2 * sigma**2))
    gauss /= gauss.sum()
    smooth_1d, diff_1d = np.array([1.0, 2.0, 1.0]), np.array([-1.0, 0.0, 1.0])
    tan22, h, w = np.float32(np.tan(np.pi / 8)), x.shape[1], x.shape[2]
    out = np.empty(x.shape, dtype=np.uint8)
    for start in range(0, len(x), 4096):
        s = _shift_sum(_shift_sum(x[start:start + 4096], gauss, 1), gauss, 2)
        gx = _shift_sum(_shift_sum(s, diff_1d, 2), smooth_1d, 1)
        gy = _shift_sum(_shift_sum(s, diff_1d, 1), smooth_1d, 2)
        mag = np.sqrt(gx * gx + gy * gy)
        ax, ay = np.abs(gx), np.abs(gy)
        bins = {  # gradient direction -> the two neighbours across the edge, as (dy, dx)
            ((0, 1), (0, -1)): ay <= tan22 * ax,
            ((1, 0), (-1, 0)): ax < tan22 * ay,
        }
        diagonal = ~(bins[((0, 1), (0, -1))] | bins[((1, 0), (-1, 0))])
        bins[((1, 1), (-1, -1))] = diagonal & (gx * gy > 0)
        bins[((1, -1), (-1, 1))] = diagonal & (gx * gy <= 0)
        padded = np.pad(mag, ((0, 0), (1, 1), (1, 1)))
        keep = np.zeros(mag.shape, dtype=bool)
        for ((y1, x1), (y2, x2)), where in bins.items():
            n1 = padded[:, 1 + y1:1 + y1 + h, 1 + x1:1 + x1 + w]
            n2 = padded[:, 1 + y2:1 + y2 + h, 1 + x2:1 + x2 + w]
            keep |= where & (mag >= n1) & (mag >= n2)
        peak = mag.reshape(len(mag), -1).max(axis=1).reshape(-1, 1, 1)
        edges = keep & (mag >= np.float32(threshold) * peak) & (peak > 0)
        out[start:start + 4096] = np.where(edges, 255, 0).astype(np.uint8)
    return torch.from_numpy(out).unsqueeze(1)


@DATASETS.register("edges2fashion")
def edges2fashion(root: str | None = None, split: str = "train", image_size: int | None = None) -> UnpairedData:
    """Edge maps (A) -> Fashion-MNIST items (B); unpaired for training, paired for testing."""
    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r} for edges2fashion; valid splits: train, test")
    key = (str(root), split, image_size)
    if key in _EDGES_CACHE:  # edge maps take a few seconds; tensors are never modified in place
        tensors, info = _EDGES_CACHE[key]
        return UnpairedData("edges2fashion", dict(tensors), dict(info))
    items = fashion_mnist(root=root, split=split)
    images, labels = items.images, items.labels
    if image_size is not None and images.shape[-1] != image_size:
        images = resize_uint8(images, image_size)
    if split == "train":
        n = len(images)
        half = n // 2
        g = torch.Generator().manual_seed(SHUFFLE_SEED)
        a_src = torch.arange(half)[torch.randperm(half, generator=g)]
        b_src = torch.arange(half, n)[torch.randperm(n - half, generator=g)]
        a_src, b_src = match_lengths(a_src, b_src, g)
        a = edge_maps(images[a_src])
        b = images[b_src]
        tensors = {"a": a, "b": b, "a_source": a_src, "b_source": b_src}
        info = unpaired_info("edges2fashion", a, b, split, paired=False)
    else:
        src = torch.arange(len(images))
        a = edge_maps(images)
        tensors = {"a": a, "b": images.contiguous(), "y": labels, "a_source": src, "b_source": src}
        info = unpaired_info("edges2fashion", a, images, split, paired=True,
                             num_classes=len(FASHION_CLASSES), class_names=list(FASHION_CLASSES))
    info["domains"] = ["edges", "fashion-mnist"]
    while len(_EDGES_CACHE) >= 2:  # keep two (train and test) in memory at most
        _EDGES_CACHE.pop(next(iter(_EDGES_CACHE)))
    _EDGES_CACHE[key] = (tensors, info)
    return UnpairedData("edges2fashion", dict(tensors), dict(info))
