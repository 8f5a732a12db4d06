"""Image datasets: Fashion-MNIST, MNIST, CIFAR-10, scikit-learn digits, folders.

Images are stored as uint8 tensors N x C x H x W and handed to models as
floats in [-1, 1]. Files are looked up, in order, in ``--data-root`` (or
``$GENLAB_DATA``), torchvision's layout under it, Debian's
``/usr/share/datasets/<name>/``, and finally through torchvision's download
(skipped when ``GENLAB_OFFLINE=1``). A dataset that cannot be found raises a
`DataError` that says exactly how to get it.
"""

from __future__ import annotations

import gzip
import os
import socket
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..errors import DataError, GenlabError
from ..io import GREY_MODES, UNREADABLE, ImageTooLarge, open_image, read_pil
from ..memory import available_memory
from ..registry import DATASETS
from .base import TensorData

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
#: the largest side picked automatically for a folder (the most --image-size accepts)
MAX_AUTO_SIZE = 1024


class ImageData(TensorData):
    """Images (uint8, N x C x H x W) and optional labels."""

    @property
    def images(self) -> torch.Tensor:
        return self.tensors["x"]

    def to_model(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {**batch, "x": uint8_to_unit_range(batch["x"])}


def uint8_to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (any device) -> floats in [-1, 1], the models' input range."""
    return images.float().div_(127.5).sub_(1.0)


def make_image_data(name: str, images: torch.Tensor, labels: torch.Tensor | None,
                    class_names: list[str] | None = None, image_size: int | None = None,
                    split: str = "train") -> ImageData:
    if image_size is not None and images.shape[-1] != image_size:
        images = resize_uint8(images, image_size)
    tensors = {"x": images.contiguous()}
    info: dict[str, Any] = {"kind": "image", "dataset": name, "split": split,
                            "shape": list(images.shape[1:]), "num_classes": 0}
    if labels is not None:
        tensors["y"] = labels.long()
        info["num_classes"] = int(len(class_names) if class_names else int(labels.max()) + 1)
        info["class_names"] = class_names or [str(i) for i in range(info["num_classes"])]
    return ImageData(name, tensors, info)


def resize_uint8(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize a uint8 batch to size x size (bilinear, antialiased), in chunks."""
    out = []
    for chunk in images.split(4096):
        x = F.interpolate(chunk.float(), size=(size, size), mode="bilinear",
                          antialias=True, align_corners=False)
        out.append(x.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)


# ---------------------------------------------------------------------------
# lookup


def data_roots(root: str | os.PathLike | None) -> list[Path]:
    roots = []
    if root:
        roots.append(Path(root).expanduser())
    if os.environ.get("GENLAB_DATA"):
        roots.append(Path(os.environ["GENLAB_DATA"]).expanduser())
    roots.append(Path("~/.cache/genlab/data").expanduser())
    return roots


def offline() -> bool:
    return os.environ.get("GENLAB_OFFLINE", "").lower() in ("1", "true", "yes")


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (gzip or raw) into a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read {path}: {exc}; the file is corrupt, delete it and fetch it again") from None
    if len(data) < 8 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise DataError(f"{path} is not an IDX file of unsigned bytes; fetch the original file again")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(data) - offset != expected:
        raise DataError(f"{path} is truncated ({len(data) - offset} of {expected} bytes); fetch it again")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def _find_file(stem: str, dirs: list[Path]) -> Path | None:
    for d in dirs:
        for name in (stem, stem + ".gz"):
            p = d / name
            if p.is_file():
                return p
    return None


def _mnist_like(name: str, tv_name: str, debian_name: str, install_hint: str, class_names: list[str] | None,
                root: str | None, split: str, image_size: int | None) -> ImageData:
    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r} for {name}; valid splits: train, test")
    prefix = "train" if split == "train" else "t10k"
    dirs: list[Path] = []
    for r in data_roots(root):
        dirs += [r, r / name, r / tv_name / "raw", r / debian_name]
    dirs.append(Path("/usr/share/datasets") / debian_name)
    img = _find_file(f"{prefix}-images-idx3-ubyte", dirs)
    lab = _find_file(f"{prefix}-labels-idx1-ubyte", dirs)
    if img is None or lab is None:
        if not offline():
            _try_download(tv_name, root, split)
            download_dir = data_roots(root)[0] / tv_name / "raw"
            img = _find_file(f"{prefix}-images-idx3-ubyte", [download_dir])
            lab = _find_file(f"{prefix}-labels-idx1-ubyte", [download_dir])
        if img is None or lab is None:
            raise DataError(
                f"{name} ({split} split) not found in {', '.join(str(d) for d in dirs[:2])} or "
                f"/usr/share/datasets/{debian_name}; {install_hint}"
            )
    images = torch.from_numpy(read_idx(img).copy()).unsqueeze(1)
    labels = torch.from_numpy(read_idx(lab).astype(np.int64))
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{img} and {lab} disagree on the number of items; fetch both files again")
    return make_image_data(name, images, labels, class_names, image_size, split)


def _try_download(tv_name: str, root: str | None, split: str) -> None:
    """Fetch through torchvision when online; failures fall through to the hint."""
    import torchvision.datasets as tvd  # noqa: PLC0415  (heavy: pulls in torch._dynamo)

    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(15)
    try:
        getattr(tvd, tv_name)(str(data_roots(root)[0]), train=(split == "train"), download=True)
    except Exception:  # noqa: BLE001 - any failure means "not available", reported by the caller
        pass
    finally:
        socket.setdefaulttimeout(old)


@DATASETS.register("fashion-mnist")
def fashion_mnist(root: str | None = None, split: str = "train", image_size: int | None = None) -> ImageData:
    return _mnist_like("fashion-mnist", "FashionMNIST", "fashion-mnist",
                       "install it with `apt-get install dataset-fashion-mnist`, or put the four IDX files "
                       "in --data-root DIR", FASHION_CLASSES, root, split, image_size)


@DATASETS.register("mnist")
def mnist(root: str | None = None, split: str = "train", image_size: int | None = None) -> ImageData:
    return _mnist_like("mnist", "MNIST", "mnist",
                       "download the IDX files (train-images-idx3-ubyte.gz, ...) into --data-root DIR "
                       "or $GENLAB_DATA, or run once online", [str(i) for i in range(10)],
                       root, split, image_size)


@DATASETS.register("cifar10")
def cifar10(root: str | None = None, split: str = "train", image_size: int | None = None) -> ImageData:
    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r} for cifar10; valid splits: train, test")
    import torchvision.datasets as tvd  # noqa: PLC0415  (heavy: pulls in torch._dynamo)

    last_err = None
    for r in data_roots(root):
        if (r / "cifar-10-batches-py").is_dir():
            try:
                ds = tvd.CIFAR10(str(r), train=(split == "train"), download=False)
                break
            except Exception as exc:  # noqa: BLE001
                last_err = exc
    else:
        ds = None
        if not offline():
            try:
                ds = tvd.CIFAR10(str(data_roots(root)[0]), train=(split == "train"), download=True)
            except Exception as exc:  # noqa: BLE001
                last_err = exc
        if ds is None:
            raise DataError(
                "cifar10 not found: put the python version (cifar-10-batches-py/) from "
                "https://www.cs.toronto.edu/~kriz/cifar.html under --data-root DIR"
                + (f" ({type(last_err).__name__})" if last_err else "")
            )
    images = torch.from_numpy(np.asarray(ds.data)).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor(ds.targets, dtype=torch.int64)
    return make_image_data("cifar10", images, labels, list(ds.classes), image_size, split)


@DATASETS.register("digits")
def digits(root: str | None = None, split: str = "train", image_size: int | None = None) -> ImageData:
    """scikit-learn's bundled 8x8 digits (1,797 images; offline). Test split: every 5th image."""
    from sklearn.datasets import load_digits  # noqa: PLC0415

    d = load_digits()
    images = torch.from_numpy((d.images * (255.0 / 16.0)).round().astype(np.uint8)).unsqueeze(1)
    labels = torch.from_numpy(d.target.astype(np.int64))
    test = torch.arange(len(labels)) % 5 == 0
    keep = test if split == "test" else ~test
    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r} for digits; valid splits: train, test")
    return make_image_data("digits", images[keep], labels[keep], [str(i) for i in range(10)], image_size, split)


# ---------------------------------------------------------------------------
# folders


def image_files(path: Path) -> list[Path]:
    """Every file under `path` (recursively), sorted; hidden files left out."""
    return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))


#: folders with fewer files than this are decoded in the main process (workers cost a start-up)
PARALLEL_DECODE_MIN_FILES = 512


def default_workers() -> int:
    return min(8, os.cpu_count() or 1)


def _decode_image(path: Path, grey: bool, size: int) -> np.ndarray | None:
    """One file as uint8 C x size x size (centre-cropped and resized if needed); None if unreadable."""
    try:
        p = read_pil(path, path.name, grey)
    except GenlabError:
        return None
    w, h = p.size
    if (w, h) != (size, size):
        s = min(w, h)
        p = p.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
        p = p.resize((size, size), Image.BICUBIC)
    a = np.asarray(p, dtype=np.uint8)
    return a[None] if grey else a.transpose(2, 0, 1)


class _ImageFiles(torch.utils.data.Dataset):
    def __init__(self, files: list[Path], grey: bool, size: int):
        self.files, self.grey, self.size = files, grey, size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> np.ndarray | None:
        return _decode_image(self.files[i], self.grey, self.size)


def _decode_all(files: list[Path], grey: bool, size: int, workers: int) -> tuple[np.ndarray, list[int]]:
    """Decode `files` in order (in `workers` worker processes for large folders) straight into
    one uint8 array N x C x size x size, so memory peaks at the dataset's own size; returns the
    array of the readable files, in order, and the indices of the unreadable ones."""
    out = np.empty((len(files), 1 if grey else 3, size, size), dtype=np.uint8)
    if workers <= 0 or len(files) < PARALLEL_DECODE_MIN_FILES:
        decoded: Any = (_decode_image(f, grey, size) for f in files)
    else:
        loader = torch.utils.data.DataLoader(_ImageFiles(files, grey, size), batch_size=64, num_workers=workers,
                                             collate_fn=list)
        decoded = (a for batch in loader for a in batch)
    bad, kept = [], 0
    for i, a in enumerate(decoded):
        if a is None:
            bad.append(i)
            continue
        out[kept] = a
        kept += 1
    return out[:kept], bad


def load_folder(path: str, split: str = "train", image_size: int | None = None, strict: bool = False,
                name: str | None = None, workers: int | None = None) -> ImageData:
    """Every image under PATH; class subfolders (PATH/<class>/*.png) become labels.

    Files that are not readable images, and images over Pillow's pixel limit
    (checked from the header, before decoding), are skipped with a count on
    stderr, or refused with `strict=True`. Images of mixed sizes are
    centre-cropped to a square and resized to `image_size`, or to the most
    common size among them if that is at most 1024; 16-bit grey stays grey.
    A folder that would not fit in memory is refused before decoding.
    A first pass reads only the headers (sizes, colour modes); the decoding pass
    runs in `workers` worker processes (default: up to 8, one per core) when the
    folder holds 512 files or more. The images are then held in memory as uint8,
    so training draws batches by indexing, with no loader between steps.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"folder {str(root)!r} does not exist; pass folder:PATH with a folder of images")
    if (root / split).is_dir():
        root = root / split
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    loose = [p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")]
    classes = [d.name for d in subdirs] if subdirs and not any(p.suffix.lower() in IMAGE_SUFFIXES for p in loose) else None
    files = image_files(root)
    if not files:
        raise DataError(f"folder {str(root)!r} holds no files; put images (.png, .jpg, ...) in it")
    headers: list[tuple[Path, tuple[int, int], str]] = []
    bad: list[Path] = []
    too_large: list[str] = []
    for f in files:
        try:
            with open_image(f, f.name) as im:  # reads the header only
                headers.append((f, im.size, im.mode))
        except ImageTooLarge as exc:
            bad.append(f)
            too_large.append(str(exc))
        except UNREADABLE:
            bad.append(f)
    if too_large and (strict or not headers):
        raise DataError(f"{too_large[0]}" + (f" ({len(too_large)} such files in {str(root)!r})"
                                             if len(too_large) > 1 else ""))
    grey = bool(headers) and all(mode in GREY_MODES for _, _, mode in headers)
    sizes = Counter(size for _, size, _ in headers)
    chosen_size = image_size is None
    if headers and image_size is None:
        (w, h), _ = sizes.most_common(1)[0]
        image_size = min(w, h)
        if image_size > MAX_AUTO_SIZE:
            raise DataError(f"images in {str(root)!r} are mostly {w}x{h}, larger than the {MAX_AUTO_SIZE} px genlab "
                            f"picks on its own; pass --image-size N (4..{MAX_AUTO_SIZE}) to resize them")
    _check_fits(len(headers), 1 if grey else 3, image_size or 1, root)
    array, unreadable = _decode_all([f for f, _, _ in headers], grey, image_size or 1,
                                    default_workers() if workers is None else workers)
    bad += [headers[i][0] for i in unreadable]  # a valid header but a truncated or corrupt body
    skip = set(unreadable)
    labels = []
    for i, (f, _, _) in enumerate(headers):
        if classes is not None and i not in skip:
            labels.append(classes.index(f.relative_to(root).parts[0]) if len(f.relative_to(root).parts) > 1 else -1)
    if bad and strict:
        raise DataError(f"{len(bad)} file(s) in {str(root)!r} are not readable images (first: {bad[0].name}); "
                        f"remove them or drop --strict-data to skip them")
    if bad:
        print(f"genlab: skipped {len(bad)} unreadable file(s) in {root} (first: {bad[0].name})"
              + (f"; {len(too_large)} over the pixel limit" if too_large else ""), file=sys.stderr)
    if not len(array):
        raise DataError(f"folder {str(root)!r} holds no readable images; put .png or .jpg files in it")
    if len(sizes) > 1 and chosen_size:
        print(f"genlab: images in {root} have {len(sizes)} sizes; centre-cropped and resized all to "
              f"{image_size}x{image_size} (set --image-size to choose)", file=sys.stderr)
    images = torch.from_numpy(array)
    lab = None
    if classes is not None and all(v >= 0 for v in labels):
        lab = torch.tensor(labels, dtype=torch.int64)
    return make_image_data(name or f"folder:{path}", images, lab, classes if lab is not None else None,
                           None, split)


def _check_fits(n: int, channels: int, size: int, root: Path) -> None:
    """Refuse, before decoding, a folder whose images would not fit in memory at `size`."""
    need = n * channels * size * size
    free = available_memory()
    if free is not None and need > free // 2:
        raise DataError(f"{n} images of {channels}x{size}x{size} in {str(root)!r} need {need / 2**30:.1f} GiB, more "
                        f"than half of this machine's {free / 2**30:.1f} GiB free; pass a smaller --image-size or "
                        f"use fewer images")


@DATASETS.register("folder")
def folder(path: str = "", root: str | None = None, split: str = "train", image_size: int | None = None,
           strict: bool = False, workers: int | None = None) -> ImageData:
    if not path:
        raise DataError("folder dataset needs a path: use folder:PATH")
    return load_folder(path, split=split, image_size=image_size, strict=strict, workers=workers)
