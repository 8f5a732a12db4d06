"""Unpaired image-to-image data: two domains A and B (CycleGAN's setting).

Datasets (kind ``"unpaired-image"``):

- ``unpaired:PATH``: the layout the CycleGAN datasets ship in, ``PATH/trainA``,
  ``PATH/trainB``, ``PATH/testA``, ``PATH/testB`` (each read with
  `genlab.data.images.load_folder`). Split ``train`` reads trainA/trainB,
  ``test`` reads testA/testB. When testA/ and testB/ hold files of the same
  names (extensions aside; ``shoe_07.jpg`` and ``shoe_07.png`` pair), the
  test split is *paired*: image i of A is the counterpart of image i of B,
  and `genlab eval` scores translations against their true targets.
- ``edges2fashion``: a built-in, measurable task made from Fashion-MNIST.
  Domain A is an edge map of an item computed in genlab (`edges.py`: thin
  white lines on black, like the items' black background), domain B is the
  item itself.
- ``fashion2negative``: the second built-in task, not about edges: domain A
  holds Fashion-MNIST items, domain B their photographic negatives
  (255 - x: dark items on a white ground).

In both built-in tasks the train split's two domains come from disjoint
images: the first half of Fashion-MNIST's training indices give A, the
second half B, so no pair exists at training time. The test split keeps the
pairs (a_i, b_i, label_i) of Fashion-MNIST's test split, so a translation can
be scored against its true target; ``info["scoring"]`` says how each domain
is scored (edge maps, or images with the Fashion-MNIST classifier,
negatives inverted first; see `genlab.models.cyclegan.paired`).

The tensors are ``"a"`` and ``"b"`` (uint8, N x C x H x W; floats in [-1, 1]
after `prepare()`) of equal length, because the Trainer's batch iterator
draws one index for all tensors. In unpaired training data each side is
shuffled independently at load time (the shorter side topped up by random
repeats), so a shared index pairs nothing. ``"a_source"``/``"b_source"``
(built-in tasks only) record which Fashion-MNIST image each item came from;
``"y"`` holds the test split's labels. Neither is handed to the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch

from ..errors import DataError
from ..registry import DATASETS
from .base import TensorData
from .edges import edge_maps
from .images import FASHION_CLASSES, fashion_mnist, image_files, load_folder, resize_uint8, uint8_to_unit_range

KIND = "unpaired-image"
#: fixed seed of the independent shuffles of the two training domains
SHUFFLE_SEED = 1234
_TASK_CACHE: dict[tuple, tuple[dict[str, torch.Tensor], dict[str, Any]]] = {}


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


def same_names(folder_a: Path, folder_b: Path, n_a: int, n_b: int) -> bool:
    """True when two folders hold image files of the same names (extensions aside), every one
    of them read (`n_a`, `n_b` images), so that the i-th images of both are a pair."""
    names = [[p.relative_to(f).with_suffix("").as_posix() for p in image_files(f)] for f in (folder_a, folder_b)]
    return names[0] == names[1] and len(set(names[0])) == len(names[0]) == n_a == n_b


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
    paired = split == "test" and same_names(base / "testA", base / "testB", len(a), len(b))
    if split == "train":
        g = torch.Generator().manual_seed(SHUFFLE_SEED)
        a = a[torch.randperm(len(a), generator=g)]
        b = b[torch.randperm(len(b), generator=g)]
        a, b = match_lengths(a, b, g)
    else:
        a, b = match_lengths(a, b, None)
    info = unpaired_info(f"unpaired:{path}", a, b, split, paired=paired, **counts)
    return UnpairedData(f"unpaired:{path}", {"a": a.contiguous(), "b": b.contiguous()}, info)


# ---------------------------------------------------------------------------
# built-in tasks made from Fashion-MNIST: edges2fashion, fashion2negative


def fashion_task(name: str, to_a: Callable[[torch.Tensor], torch.Tensor],
                 to_b: Callable[[torch.Tensor], torch.Tensor], domains: list[str], scoring: dict[str, Any],
                 root: str | None, split: str, image_size: int | None) -> UnpairedData:
    """Domains A = to_a(items), B = to_b(items): from disjoint halves of the train split
    (unpaired, each shuffled), and from the same test items (paired, with labels)."""
    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r} for {name}; valid splits: train, test")
    key = (name, str(root), split, image_size)
    if key in _TASK_CACHE:  # edge maps take a few seconds; tensors are never modified in place
        tensors, info = _TASK_CACHE[key]
        return UnpairedData(name, dict(tensors), dict(info))
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
        a, b = to_a(images[a_src]), to_b(images[b_src])
        tensors = {"a": a, "b": b, "a_source": a_src, "b_source": b_src}
        info = unpaired_info(name, a, b, split, paired=False)
    else:
        src = torch.arange(len(images))
        a, b = to_a(images).contiguous(), to_b(images).contiguous()
        tensors = {"a": a, "b": b, "y": labels, "a_source": src, "b_source": src}
        info = unpaired_info(name, a, b, split, paired=True,
                             num_classes=len(FASHION_CLASSES), class_names=list(FASHION_CLASSES))
    info["domains"] = domains
    info["scoring"] = scoring
    while len(_TASK_CACHE) >= 2:  # keep two (train and test) in memory at most
        _TASK_CACHE.pop(next(iter(_TASK_CACHE)))
    _TASK_CACHE[key] = (tensors, info)
    return UnpairedData(name, dict(tensors), dict(info))


@DATASETS.register("edges2fashion")
def edges2fashion(root: str | None = None, split: str = "train", image_size: int | None = None) -> UnpairedData:
    """Edge maps (A) -> Fashion-MNIST items (B); unpaired for training, paired for testing."""
    return fashion_task("edges2fashion", edge_maps, lambda x: x, ["edges", "fashion-mnist"],
                        {"a": {"edges": True, "bright": True}, "b": {"classifier": "fashion-mnist"}},
                        root, split, image_size)


def negative(images: torch.Tensor) -> torch.Tensor:
    """uint8 images -> their photographic negatives (255 - x)."""
    return 255 - images


@DATASETS.register("fashion2negative")
def fashion2negative(root: str | None = None, split: str = "train", image_size: int | None = None) -> UnpairedData:
    """Fashion-MNIST items (A) -> their negatives (B); unpaired for training, paired for testing."""
    return fashion_task("fashion2negative", lambda x: x, negative, ["fashion-mnist", "fashion-mnist negatives"],
                        {"a": {"classifier": "fashion-mnist"}, "b": {"classifier": "fashion-mnist", "negative": True}},
                        root, split, image_size)
