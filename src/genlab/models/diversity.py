"""A mode-collapse monitor: warns when a generator's samples stop varying.

Every `every`-th logging step the monitor draws a fixed-seed batch of samples
and measures their diversity as the mean pairwise distance between sample
features divided by the same quantity on a batch of real training data.
Features are the images average-pooled to at most 16 x 16 pixels: cheap,
available for every image dataset, and zero for a generator that returns one
image whatever its noise. A healthy generator sits near 1; a collapsed one
near 0.

The ratio is added to the logs as ``diversity``. A warning line goes to
stderr when it falls below `threshold` (after `warmup_steps`, since a freshly
initialised generator is not diverse yet), or when it falls under `drop` times
the best value seen so far. Given a `classifier` (images in [0, 1] -> logits),
the monitor also logs ``class_spread``: the entropy of the predicted-class
histogram over log(number of classes), 1 when every class is equally present.
For 28x28 Fashion-MNIST and MNIST it uses the classifier shipped with
`genlab.metrics` when its weights are installed.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any, Callable

import torch
import torch.nn.functional as F

from .callbacks import Callback

if TYPE_CHECKING:
    from ..training.trainer import Trainer


def image_features(images: torch.Tensor, max_side: int = 16) -> torch.Tensor:
    """N x C x H x W images -> N x D features (average-pooled pixels)."""
    images = images.float()
    h, w = images.shape[-2:]
    if max(h, w) > max_side:
        images = F.adaptive_avg_pool2d(images, (min(h, max_side), min(w, max_side)))
    return images.flatten(1)


def mean_pairwise_distance(features: torch.Tensor) -> float:
    """Mean Euclidean distance over all pairs of distinct rows."""
    n = features.shape[0]
    if n < 2:
        return 0.0
    d = torch.cdist(features.double(), features.double())
    return float(d.sum() / (n * (n - 1)))


def class_spread(logits: torch.Tensor) -> float:
    """Entropy of the predicted-class histogram / log(classes), in [0, 1]."""
    k = logits.shape[1]
    counts = torch.bincount(logits.argmax(1), minlength=k).double()
    p = counts / counts.sum()
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return float(entropy / math.log(k)) if k > 1 else 1.0


def shipped_classifier(info: dict[str, Any]) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The domain classifier shipped with `genlab.metrics` for 28x28 Fashion-MNIST/MNIST data, if installed."""
    domain = info.get("dataset")
    if domain not in ("fashion-mnist", "mnist") or list(info.get("shape") or []) != [1, 28, 28]:
        return None
    try:
        from ..metrics import load_classifier  # noqa: PLC0415

        with torch.random.fork_rng(devices=[]):  # building the network must not move the run's RNG (exact resume)
            extractor = load_classifier(domain)
    except Exception:  # weights not installed (or metrics unavailable): the pixel measure still works
        return None
    return lambda images: extractor(images)[1]


class DiversityMonitor(Callback):
    """Trainer callback that logs `diversity` and warns of mode collapse."""

    def __init__(self, threshold: float = 0.3, drop: float = 0.5, every: int = 10, n: int = 64,
                 warmup_steps: int = 1000, seed: int = 12345,
                 classifier: Callable[[torch.Tensor], torch.Tensor] | None = None, auto_classifier: bool = True,
                 stream: Any = None, hint: str = "a lower --lr-g, --r1-gamma 1 or --diffaugment color,translation"):
        self.threshold = threshold
        self.hint = hint
        self.drop = drop
        self.every = max(1, int(every))
        self.n = n
        self.warmup_steps = warmup_steps
        self.seed = seed
        self.classifier = classifier
        self.auto_classifier = auto_classifier
        self.stream = stream
        self.reference: float | None = None
        self.best = 0.0
        self.logs_seen = 0
        self.warnings: list[str] = []

    # -- measurement ----------------------------------------------------------------------
    def set_reference(self, real01: torch.Tensor) -> float:
        """Diversity scale from real images in [0, 1]."""
        self.reference = mean_pairwise_distance(image_features(real01))
        return self.reference

    def diversity(self, images01: torch.Tensor) -> float:
        """Mean pairwise distance of `images01` relative to the real data's."""
        if not self.reference:
            raise RuntimeError("DiversityMonitor has no reference; call set_reference(real_images) first")
        return mean_pairwise_distance(image_features(images01)) / self.reference

    def check(self, images01: torch.Tensor, step: int) -> dict[str, float]:
        """Measure a batch of samples; warn if collapsed. Returns the values to log."""
        value = self.diversity(images01)
        out = {"diversity": value}
        reasons = []
        if value < self.threshold and step >= self.warmup_steps:
            reasons.append(f"below the {self.threshold:g} this monitor warns at")
        if self.best > 0 and value < self.drop * self.best and self.best >= self.threshold:
            reasons.append(f"down from {self.best:.2f} earlier in this run")
        self.best = max(self.best, value)
        if self.classifier is not None:
            with torch.no_grad():
                out["class_spread"] = class_spread(self.classifier(images01))
        if reasons:
            line = (f"genlab: warning: possible mode collapse at step {step}: the generator's samples look alike "
                    f"(they vary {value:.2f} times as much as real images do; {' and '.join(reasons)}); "
                    f"try {self.hint}, or sample from an earlier checkpoint (README: Mode collapse)")
            self.warnings.append(line)
            print(line, file=self.stream or sys.stderr, flush=True)
        return out

    # -- trainer hooks ----------------------------------------------------------------------
    def on_train_start(self, trainer: "Trainer") -> None:
        data = trainer.data
        if "x" not in data.tensors or data.tensors["x"].dim() != 4:
            self.reference = None  # not image data: stay silent
            return
        g = torch.Generator().manual_seed(self.seed)
        idx = torch.randperm(len(data), generator=g)[: self.n]
        real = type(data)(data.name, {k: v[idx] for k, v in data.tensors.items()}, dict(data.info)).prepare("cpu")
        self.set_reference((real["x"] + 1) / 2)
        if self.classifier is None and self.auto_classifier:
            self.classifier = shipped_classifier(data.info)

    def on_log(self, trainer: "Trainer", step: int, logs: dict[str, Any]) -> None:
        self.logs_seen += 1
        if not self.reference or self.logs_seen % self.every:
            return
        try:
            images = trainer.model.sample(self.n, seed=self.seed).get("images")
        except (NotImplementedError, TypeError, ValueError, RuntimeError):
            images = None
        if images is None or images.dim() != 4:  # a model that cannot sample images unprompted: stay silent
            self.reference = None
            return
        stream = self.stream
        if not trainer.is_main:
            self.stream = NullStream()
        try:
            logs.update(self.check(images, step))
        finally:
            self.stream = stream


class NullStream:
    """A stream that drops what is written (for processes other than the main one)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass
