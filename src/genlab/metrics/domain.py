"""Domain feature extractors trained on first use, for image data without a shipped classifier.

`extractor="auto"` uses the shipped classifiers for Fashion-MNIST and MNIST.
For any other image data (scikit-learn's digits, a folder of photos, CIFAR-10)
`domain_extractor(images, labels)` trains a small CNN on the reference images
themselves, once:

* always: a self-supervised rotation predictor (Gidaris et al. 2018: which of
  0/90/180/270 degrees was an image turned by), which makes the features see
  shapes and layout, not only colours;
* with labels (two classes or more) also a classifier of those labels, on the
  other half of each batch; its logits feed IS, class coverage and accuracy.
  (A classifier alone of, say, two classes learns little more than what
  separates them; shuffled pixels of the right colours would pass it.)

The features are the 64-d layer both heads share.

Training runs on the CPU in one thread and is deterministic for a seed (its
own seeded generators, nothing taken from the global RNG; one thread keeps the
order of floating-point sums fixed whatever the number of cores). The weights
are cached as ``$GENLAB_CACHE/extractors/domain-<hash>.safetensors`` (default
``~/.cache/genlab``), where the hash covers the content of the images and
labels, the recipe and the seed, so the same data finds the same extractor
whatever it is called, and changed data trains a new one. Training prints one
line on stderr. The name ``domain-<hash>`` is what reference statistics record;
`load_domain_extractor(name)` reads it back from the cache.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load as load_tensors
from safetensors.torch import save_file
from torch import nn

from .errors import MetricsError
from .extractors import (
    PREFIXES,
    FeatureExtractor,
    convert_images,
    safetensors_metadata,
    state_dict_hash,
    to_float_images,
)
from .reference import cache_root, content_hash

RECIPE = "1"
#: images are resized to at most this side before the network (larger images cost time, not quality here)
MAX_SIDE = 32
#: at most this many reference images train the extractor (a seeded random subset beyond)
MAX_IMAGES = 10_000
BATCH_SIZE = 64
#: passes over the training images, within [MIN_STEPS, MAX_STEPS] optimizer steps
EPOCHS = 10
MIN_STEPS, MAX_STEPS = 200, 2000
#: images of this side and more are strided by 2 in the first layer
STRIDE_FROM = 24
LEARNING_RATE = 3e-3
HELD_OUT = 0.1
#: with labels, this share of each batch trains the class head, the rest the rotation head
CLASS_SHARE = 0.5
ROTATIONS = 4


def extractor_cache_dir() -> Path:
    """Where trained domain extractors live: $GENLAB_CACHE/extractors (default ~/.cache/genlab/extractors)."""
    return cache_root() / "extractors"


def _conv(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class DomainCNN(nn.Module):
    """Five 3x3 conv layers (two max-pools), global average pooling, a linear feature layer and two heads.

    Works at any input side >= 4; the first layer strides by `stem_stride`
    (2 for images of side STRIDE_FROM and more, a quarter of the work). The
    features are the pre-activation of the feature layer (no dead dimensions,
    full-rank covariance). `classes` is the class head (None without labels),
    `rotation` the head that tells which of four quarter turns an image had.
    """

    def __init__(self, in_channels: int, num_classes: int = 0, widths: tuple[int, int, int] = (16, 32, 64),
                 feature_dim: int = 64, stem_stride: int = 1):
        super().__init__()
        a, b, c = widths
        stem = nn.Conv2d(in_channels, a, 3, stride=stem_stride, padding=1, bias=False)
        self.body = nn.Sequential(
            stem, nn.BatchNorm2d(a), nn.ReLU(inplace=True), *_conv(a, a), nn.MaxPool2d(2),
            *_conv(a, b), *_conv(b, b), nn.MaxPool2d(2),
            *_conv(b, c), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )  # fmt: skip
        self.embed = nn.Linear(c, feature_dim)
        self.classes = nn.Linear(feature_dim, num_classes) if num_classes else None
        self.rotation = nn.Linear(feature_dim, ROTATIONS)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.body(x * 2.0 - 1.0))

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        feats = self.features(x)
        return feats, self.classes(F.relu(feats)) if self.classes is not None else None


class DomainExtractor(FeatureExtractor):
    """A trained DomainCNN as an extractor; class logits only when it was trained on labels."""

    def __init__(self, name: str, model: DomainCNN, meta: dict[str, str], weights_hash: str):
        super().__init__()
        self.name, self.model, self.meta, self._weights_hash = name, model, dict(meta), weights_hash
        self.input_channels = int(meta["in_channels"])
        self.input_size = (int(meta["side"]), int(meta["side"]))
        self.eval()

    @property
    def weights_hash(self) -> str:
        return self._weights_hash

    def compute(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.model.features_and_logits(x)


# ------------------------------------------------------------------ training


def _rotate(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Each image x[i] turned by k[i] quarter turns."""
    out = x.clone()
    for turns in range(1, ROTATIONS):
        rows = (k == turns).nonzero().flatten()
        if len(rows):
            out[rows] = torch.rot90(x[rows], turns, dims=(2, 3))
    return out


def _batches(x: torch.Tensor, steps: int, g: torch.Generator):
    """`steps` index batches drawn in seeded epochs."""
    n, done = len(x), 0
    while True:
        perm = torch.randperm(n, generator=g)
        for start in range(0, n - min(n, BATCH_SIZE) + 1, BATCH_SIZE):
            yield perm[start:start + BATCH_SIZE]
            done += 1
            if done == steps:
                return


def _shift(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """The batch moved by a random offset of up to 1/16 of its side (wrapping around)."""
    shift = max(1, x.shape[-1] // 16)
    dy, dx = (int(v) for v in torch.randint(-shift, shift + 1, (2,), generator=g))
    return torch.roll(x, (dy, dx), dims=(2, 3))


def _loss(model: DomainCNN, xb: torch.Tensor, yb: torch.Tensor | None, g: torch.Generator) -> torch.Tensor:
    """Rotation loss on turned images; with labels, part of the batch goes to the class loss instead.

    One forward pass over both parts, so batch normalisation sees the mix it is evaluated on.
    """
    part = int(len(xb) * CLASS_SHARE) if yb is not None else 0
    turns = torch.randint(ROTATIONS, (len(xb) - part,), generator=g)
    feats = F.relu(model.features(torch.cat([_shift(xb[:part], g), _rotate(xb[part:], turns)])))
    loss = F.cross_entropy(model.rotation(feats[part:]), turns)
    if part:
        loss = loss + F.cross_entropy(model.classes(feats[:part]), yb[:part])
    return loss


def _accuracy(model: DomainCNN, x: torch.Tensor, y: torch.Tensor | None, g: torch.Generator) -> float:
    """Held-out accuracy of the class head, or of the rotation head without labels."""
    with torch.no_grad():
        if y is None:
            y = torch.randint(ROTATIONS, (len(x),), generator=g)
            pred = torch.cat([model.rotation(F.relu(model.features(c))).argmax(1) for c in _rotate(x, y).split(512)])
        else:
            pred = torch.cat([model.features_and_logits(c)[1].argmax(1) for c in x.split(512)])
    return float((pred == y).float().mean())


def _stem_stride(side: int) -> int:
    return 2 if side >= STRIDE_FROM else 1


def train_domain_cnn(x: torch.Tensor, y: torch.Tensor | None, *, seed: int = 0,
                     steps: int | None = None) -> tuple[DomainCNN, dict[str, str]]:
    """Train on float images `x` (N x C x S x S in [0, 1]) and labels `y` (None: rotation only).

    Returns the network (eval mode) and its description as string metadata.
    """
    if y is not None and int(y.unique().numel()) < 2:
        y = None
    num_classes = int(y.max()) + 1 if y is not None else 0
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(x), generator=g)
    n_held = int(len(x) * HELD_OUT) if len(x) >= 100 else 0
    held, train = perm[:n_held], perm[n_held:]
    if steps is None:
        steps = min(MAX_STEPS, max(MIN_STEPS, math.ceil(EPOCHS * len(train) / BATCH_SIZE)))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DomainCNN(x.shape[1], num_classes, stem_stride=_stem_stride(x.shape[-1]))
    opt = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LEARNING_RATE, total_steps=steps, pct_start=0.15)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same sums in the same order whatever the machine's cores; fastest for this size
    try:
        model.train()
        for idx in _batches(train, steps, g):
            rows = train[idx]
            loss = _loss(model, x[rows], y[rows] if y is not None else None, g)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        accuracy = _accuracy(model, x[held], y[held] if y is not None else None, g) if n_held else float("nan")
    finally:
        torch.set_num_threads(threads)
    meta = {"objective": "classifier+rotation" if num_classes else "rotation", "num_classes": str(num_classes),
            "in_channels": str(x.shape[1]), "side": str(x.shape[-1]), "steps": str(steps),
            "trained_on": str(len(train)), "held_out_accuracy": f"{accuracy:.4f}", "seed": str(seed), "recipe": RECIPE}
    return model, meta


# ------------------------------------------------------------- cache, entry


def _prepare(images: Any, labels: Any, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Float images at the extractor's side (<= MAX_SIDE, square) and labels, at most MAX_IMAGES of them."""
    images = torch.as_tensor(images)
    if images.shape[-1] != images.shape[-2]:
        raise MetricsError(f"a domain extractor needs square images, got {images.shape[-2]}x{images.shape[-1]}; "
                           "resize them (e.g. --image-size) or pass --extractor")
    y = None if labels is None else torch.as_tensor(labels).long()
    if y is not None and (len(y) != len(images) or int(y.min()) < 0):
        y = None
    if len(images) > MAX_IMAGES:  # a seeded subset, taken before converting to floats
        keep = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:MAX_IMAGES].sort().values
        images, y = images[keep], (y[keep] if y is not None else None)
    x = to_float_images(images)
    channels = 3 if x.shape[1] >= 3 else 1
    return convert_images(x, channels, (min(x.shape[-1], MAX_SIDE),) * 2), y


def _save(model: DomainCNN, meta: dict[str, str], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, tmp, metadata=meta)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_domain_extractor(name: str, directory: str | os.PathLike | None = None) -> DomainExtractor:
    """A cached domain extractor by name (``domain-<hash>``)."""
    path = Path(directory if directory is not None else extractor_cache_dir()) / f"{name}.safetensors"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MetricsError(
            f"extractor {name!r} is not in {path.parent}; it is trained on first use from reference data, "
            "so evaluate against the dataset (--ref DATASET) rather than a statistics file to recreate it"
        ) from None
    try:
        meta = safetensors_metadata(data)
        with torch.random.fork_rng(devices=[]):  # building the network must not move the caller's RNG
            model = DomainCNN(int(meta["in_channels"]), int(meta["num_classes"]),
                              stem_stride=_stem_stride(int(meta["side"])))
        model.load_state_dict(load_tensors(data))
    except (KeyError, ValueError, RuntimeError) as exc:
        raise MetricsError(f"cached extractor {path} is unreadable ({type(exc).__name__}); delete it to retrain") from None
    # the weights' content, not the file's bytes: safetensors writes metadata in no fixed order
    return DomainExtractor(name, model, meta, state_dict_hash(model))


PREFIXES["domain-"] = load_domain_extractor

def domain_extractor(images: Any, labels: Any = None, *, seed: int = 0, label: str = "the reference data",
                     directory: str | os.PathLike | None = None) -> DomainExtractor:
    """The domain extractor of these images (and labels): from the cache, or trained now and cached."""
    x, y = _prepare(images, labels, seed)
    key = {"recipe": RECIPE, "content": content_hash(x, y), "seed": seed}
    name = "domain-" + hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    folder = Path(directory if directory is not None else extractor_cache_dir())
    path = folder / f"{name}.safetensors"
    if not path.is_file():
        start = time.perf_counter()
        model, meta = train_domain_cnn(x, y, seed=seed)
        meta["data"] = label
        _save(model, meta, path)
        what = (f"a classifier of its {meta['num_classes']} classes (plus rotation prediction)"
                if int(meta["num_classes"]) else "a self-supervised rotation predictor (no labels)")
        acc = float(meta["held_out_accuracy"])
        print(f"genlab: no shipped feature extractor for {label}; trained {what} on {meta['trained_on']} images"
              + (f" (held-out accuracy {acc:.1%})" if acc == acc else "")
              + f" in {time.perf_counter() - start:.0f} s, cached as {path}; its FIDs compare only with each other",
              file=sys.stderr)
    return load_domain_extractor(name, folder)
