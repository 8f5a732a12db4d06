"""Test data that no registry installs: the real files where present, small files of the same format otherwise.

The MNIST test split and the TimeGAN stock prices live in ``../shared/data``
next to the repository on development machines only. Where they are absent,
these helpers write files in the same formats from real data that ships with
scikit-learn, so the tests run everywhere:

* `mnist_t10k()`: a folder with ``t10k-images-idx3-ubyte.gz`` and
  ``t10k-labels-idx1-ubyte.gz``: MNIST's own files, or 10,000 of
  scikit-learn's handwritten digits (8x8) scaled to MNIST's 20x20 box,
  centred in 28x28 and shifted by up to 2 pixels, written as IDX;
* `stocks_csv()`: ``stock_data.csv`` with Open, High, Low, Close, Adj_Close,
  Volume for 3,685 days: the real prices, or a seeded geometric Brownian
  motion starting near the real file's first price;
* `colour_folder(path)`: 32x32 colour photographs with class subfolders
  (patches of scikit-learn's two sample photos, ``china`` and ``flower``),
  in ``train/`` and ``test/`` splits.

`synthetic(path)` says whether a folder or file was made here.
"""

from __future__ import annotations

import atexit
import gzip
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

#: ../shared/data next to the repository; GENLAB_TEST_SHARED_DATA=/nonexistent tries a machine without it
SHARED_DATA = Path(os.environ.get("GENLAB_TEST_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
MNIST_DIR = SHARED_DATA / "mnist-t10k"
STOCKS_FILE = SHARED_DATA / "stocks" / "stock_data.csv"
STOCK_DAYS = 3685
STOCK_COLUMNS = ["Open", "High", "Low", "Close", "Adj_Close", "Volume"]
_made: dict[str, Path] = {}


def _scratch() -> Path:
    if "scratch" not in _made:
        path = Path(tempfile.mkdtemp(prefix="genlab-testdata-"))
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        _made["scratch"] = path
    return _made["scratch"]


def synthetic(path: Path) -> bool:
    """Whether `path` was written by these helpers (not the real files)."""
    return "scratch" in _made and _made["scratch"] in Path(path).parents


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file of unsigned bytes (magic 0x00000803 for 3-D, 0x00000801 for 1-D), gzip-compressed."""
    arr = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + arr.tobytes())


def mnist_t10k() -> Path:
    """The folder of MNIST's test split: the real one, or 10,000 digits in the same IDX files."""
    if (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file() and (MNIST_DIR / "t10k-labels-idx1-ubyte.gz").is_file():
        return MNIST_DIR
    if "mnist" not in _made:
        import torch
        import torch.nn.functional as F
        from sklearn.datasets import load_digits

        digits = load_digits()
        rng = np.random.default_rng(0)
        order = np.concatenate([rng.permutation(len(digits.target)) for _ in range(6)])[:10_000]
        small = torch.from_numpy(digits.images[order] / 16.0).float().unsqueeze(1)
        box = F.interpolate(small, size=(20, 20), mode="bilinear", align_corners=False)[:, 0].numpy()
        images = np.zeros((len(order), 28, 28), dtype=np.uint8)
        shifts = rng.integers(-2, 3, size=(len(order), 2))
        for i, (dy, dx) in enumerate(shifts):
            images[i, 4 + dy:24 + dy, 4 + dx:24 + dx] = np.clip(box[i] * 255, 0, 255).round()
        folder = _scratch() / "mnist-t10k"
        folder.mkdir()
        write_idx(folder / "t10k-images-idx3-ubyte.gz", images)
        write_idx(folder / "t10k-labels-idx1-ubyte.gz", digits.target[order])
        _made["mnist"] = folder
    return _made["mnist"]


def stocks_csv() -> Path:
    """The stock-price CSV: the real one, or 3,685 seeded days in its columns (oldest first)."""
    if STOCKS_FILE.is_file():
        return STOCKS_FILE
    if "stocks" not in _made:
        rng = np.random.default_rng(0)
        close = 50.0 * np.exp(np.cumsum(rng.normal(0.0006, 0.018, STOCK_DAYS)))
        open_ = close * np.exp(rng.normal(0, 0.006, STOCK_DAYS))
        high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.008, STOCK_DAYS)))
        low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.008, STOCK_DAYS)))
        volume = rng.lognormal(15.5, 0.5, STOCK_DAYS).round()
        path = _scratch() / "stock_data.csv"
        rows = (f"{o:.6f},{h:.6f},{lo:.6f},{c:.6f},{c:.6f},{v:.0f}"
                for o, h, lo, c, v in zip(open_, high, low, close, volume))
        path.write_text(",".join(STOCK_COLUMNS) + "\n" + "\n".join(rows) + "\n")
        _made["stocks"] = path
    return _made["stocks"]


def photo_patches(n_per_class: int, seed: int = 0, side: int = 32) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """uint8 N x side x side x 3 patches of scikit-learn's sample photos, labels, and class names.

    Each patch is a random 64x64 crop of one photo, scaled to side x side.
    """
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = load_sample_images()
    names = [Path(f).stem.split(".")[0] for f in photos.filenames]  # china, flower
    rng = np.random.default_rng(seed)
    patches, labels = [], []
    for label, photo in enumerate(photos.images):
        h, w, _ = photo.shape
        for _ in range(n_per_class):
            r, c = rng.integers(0, h - 64), rng.integers(0, w - 64)
            crop = Image.fromarray(photo[r:r + 64, c:c + 64]).resize((side, side), Image.BICUBIC)
            patches.append(np.asarray(crop))
            labels.append(label)
    return np.stack(patches), np.array(labels), names


def colour_folder(path: Path, n_train: int = 240, n_test: int = 120) -> Path:
    """PATH/{train,test}/{china,flower}/*.png: 32x32 colour photo patches per class (per split and class)."""
    from PIL import Image

    for split, n, seed in (("train", n_train, 0), ("test", n_test, 1)):
        patches, labels, names = photo_patches(n, seed=seed)
        for i, (patch, label) in enumerate(zip(patches, labels)):
            folder = Path(path) / split / names[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(patch).save(folder / f"{i:04d}.png")
    return Path(path)
