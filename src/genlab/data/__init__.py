"""Datasets by name: ``fashion-mnist``, ``mnist``, ``cifar10``, ``digits``,
``folder:PATH`` and whatever other modules register.

`load_dataset("folder:/some/dir")` passes the part after the colon as the
loader's `path` argument; loaders take `root`, `split` and `image_size`.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..registry import DATASETS
from .base import BatchIterator, TensorData
from .images import ImageData, load_folder
from .sequences import reload_source

for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")


def takes_path(name: str) -> bool:
    """Whether dataset `name` is a prefix dataset (``name:PATH``)."""
    return "path" in dataset_options(name)


def dataset_options(spec: str) -> set[str]:
    """The keyword options the loader of dataset `spec` takes (empty for an unknown name)."""
    name = spec.partition(":")[0] if isinstance(spec, str) else ""
    return set(inspect.signature(DATASETS.get(name)).parameters) if name in DATASETS else set()


def dataset_specs() -> list[str]:
    """Dataset names as the user writes them (``folder:PATH`` for prefix datasets)."""
    return [f"{n}:PATH" if takes_path(n) else n for n in DATASETS.names()]


def split_spec(text: str) -> tuple[str, str | None]:
    """A reference as users write it, ``SPEC[:SPLIT]``, into (spec, split or None).

    ``mnist:test`` -> ("mnist", "test"); ``folder:/data/cats`` -> ("folder:/data/cats", None);
    ``folder:/data/cats:test`` -> ("folder:/data/cats", "test"). For prefix
    datasets the last ``:word`` is a split only when it holds no ``/`` and the
    whole text is not an existing path.
    """
    name, colon, rest = text.partition(":")
    if not colon:
        return text, None
    if name in DATASETS and takes_path(name):
        head, sep, tail = rest.rpartition(":")
        if sep and head and tail and "/" not in tail and not Path(rest).expanduser().exists():
            return f"{name}:{head}", tail
        return text, None
    return name, rest or None


#: the datasets that hold each kind of data, for messages that name the right one
KIND_EXAMPLES = {
    "image": "fashion-mnist, mnist, cifar10, digits or folder:PATH",
    "unpaired-image": "unpaired:PATH (trainA/ trainB/ testA/ testB/ folders), edges2fashion or fashion2negative",
    "sequence": "sines or csv:PATH",
    "tokens": "words or words:PATH",
}


def spec_for_kinds(spec: str, kinds: tuple[str, ...]) -> str:
    """`spec` read the way a family that trains on `kinds` needs it.

    ``folder:PATH`` whose PATH has CycleGAN's trainA/ and trainB/ folders is
    ``unpaired:PATH`` for a family of unpaired images (said on stderr).
    """
    name, colon, path = spec.partition(":")
    if name == "folder" and colon and "unpaired-image" in kinds and "image" not in kinds:
        base = Path(path).expanduser()
        if (base / "trainA").is_dir() and (base / "trainB").is_dir():
            print(f"genlab: {spec} has the trainA/ trainB/ layout; reading it as unpaired:{path}", file=sys.stderr)
            return f"unpaired:{path}"
    return spec


def check_kind(data: TensorData, family: str, kinds: tuple[str, ...]) -> None:
    """Refuse data of a kind the family does not train on, naming datasets that fit."""
    kind = data.info.get("kind", "image")
    if kind not in kinds:
        fits = "; ".join(KIND_EXAMPLES.get(k, k) for k in kinds)
        raise DataError(f"family {family!r} trains on {' or '.join(kinds)} data ({fits}), "
                        f"but {data.name} holds {kind} data; pass --data with one of those")


def load_dataset(spec: str, *, root: str | None = None, split: str = "train", **options: Any) -> TensorData:
    """Load a dataset by name (``fashion-mnist``) or prefix (``folder:PATH``)."""
    if not isinstance(spec, str) or not spec:
        raise DataError(f"no dataset given; valid datasets: {', '.join(dataset_specs())}")
    name, colon, path = spec.partition(":")
    if name not in DATASETS:
        raise DataError(f"unknown dataset {spec!r}; valid datasets: {', '.join(dataset_specs())}")
    loader = DATASETS.get(name)
    params = inspect.signature(loader).parameters
    kwargs: dict[str, Any] = {"root": root, "split": split}
    if colon:
        if "path" not in params:
            raise DataError(f"dataset {name!r} takes no path; use plain {name!r}")
        kwargs["path"] = path
    for key, value in options.items():
        if value is None:
            continue
        if key not in params:
            raise DataError(f"dataset {name!r} has no option {key!r}; its options: "
                            f"{', '.join(p for p in params if p not in ('path', 'root', 'split'))}")
        kwargs[key] = value
    return loader(**{k: v for k, v in kwargs.items() if k in params})


def load_images(name: str, split: str = "train", root: str | None = None, **options: Any) -> ImageData:
    data = load_dataset(name, root=root, split=split, **options)
    if not isinstance(data, ImageData):
        raise DataError(f"dataset {name!r} holds no images")
    return data


__all__ = ["BatchIterator", "ImageData", "TensorData", "check_kind", "load_dataset", "load_folder", "load_images",
           "spec_for_kinds", "split_spec"]


def heldout_data(info: dict[str, Any], split: str, root: str | None = None) -> TensorData:
    """The data a model was trained on (its saved data description), another split, prepared the same way."""
    if info.get("source"):  # sequence data keeps its loader and options
        return reload_source(info, split)
    opts = {}
    if info.get("kind", "image") == "image" and info.get("shape"):
        opts["image_size"] = int(info["shape"][-1])
    return load_dataset(info["dataset"], root=root, split=split, **opts)
