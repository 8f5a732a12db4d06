"""CycleGAN's collapse monitor: warns when a generator's translations stop varying
or their brightness leaves the target domain's range.

At the start of training the monitor keeps `n` fixed training images of each
domain (its own seeded draw, so the run's random state is untouched) and, from
`reference` images of each domain, the target's variety (mean pairwise
distance of pooled pixels, as `genlab.models.diversity` measures it) and the
range of its images' mean intensities (the 1st to 99th percentile). Every
`every`-th logging step it translates the fixed images both ways and logs,
per direction (``ab``: G_AB, ``ba``: G_BA):

- ``variety_ab``: the translations' variety over the target domain's (near 1
  when healthy, 0 for a generator that returns one image whatever its input);
- ``intensity_ab``: the translations' mean intensity (pixels in [0, 1]), to
  read against the target domain's, which the warning states.

After `warmup_steps` it warns, in one line on stderr, when the variety is below
`threshold`, or when more than `outside` of the translations have a mean
intensity outside the target domain's range (all darker, say: the near-black
images of a collapsed edge generator).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import torch

from ..callbacks import Callback
from ..diversity import NullStream, image_features, mean_pairwise_distance

if TYPE_CHECKING:
    from ...training.trainer import Trainer

DIRECTIONS = (("ab", "AtoB", "G_AB", "a", "b"), ("ba", "BtoA", "G_BA", "b", "a"))


class DomainReference:
    """What real images of one domain look like: variety and range of mean intensities."""

    def __init__(self, images01: torch.Tensor, n_variety: int):
        means = images01.float().flatten(1).mean(1)
        self.mean = float(means.mean())
        self.low, self.high = (float(v) for v in torch.quantile(means, torch.tensor([0.01, 0.99])))
        self.variety = mean_pairwise_distance(image_features(images01[:n_variety]))


class TranslationMonitor(Callback):
    """Trainer callback: logs ``variety_*`` and ``intensity_*`` and warns of a collapsed generator."""

    def __init__(self, threshold: float = 0.3, outside: float = 0.5, every: int = 10, n: int = 64,
                 reference: int = 512, warmup_steps: int = 500, seed: int = 12345, stream: Any = None,
                 hint: str = "a lower --lambda-cycle or a lower --lr"):
        self.threshold = threshold
        self.outside = outside
        self.every = max(1, int(every))
        self.n = n
        self.n_reference = reference
        self.warmup_steps = warmup_steps
        self.seed = seed
        self.stream = stream
        self.hint = hint
        self.sources: dict[str, torch.Tensor] = {}
        self.references: dict[str, DomainReference] = {}
        self.logs_seen = 0
        self.warnings: list[str] = []

    def set_data(self, a01: torch.Tensor, b01: torch.Tensor) -> None:
        """Fixed source images and the domains' references from real images in [0, 1]."""
        self.sources = {"a": a01[: self.n], "b": b01[: self.n]}
        self.references = {"a": DomainReference(a01, self.n), "b": DomainReference(b01, self.n)}

    def check(self, model: Any, step: int) -> dict[str, float]:
        """Translate the fixed images both ways; warn if a generator collapsed. Returns the values to log."""
        out: dict[str, float] = {}
        for key, direction, name, source, target in DIRECTIONS:
            fake = model.translate(self.sources[source], direction)
            ref = self.references[target]
            variety = mean_pairwise_distance(image_features(fake)) / ref.variety if ref.variety else 1.0
            means = fake.flatten(1).mean(1)
            darker, brighter = float((means < ref.low).float().mean()), float((means > ref.high).float().mean())
            out[f"variety_{key}"] = variety
            out[f"intensity_{key}"] = float(means.mean())
            if step < self.warmup_steps:
                continue
            reasons = []
            if variety < self.threshold:
                reasons.append(f"its translations look alike (they vary {variety:.2f} times as much as real "
                               f"{target.upper()} images do; below the {self.threshold:g} this monitor warns at)")
            for share, word in ((darker, "darker"), (brighter, "brighter")):
                if share > self.outside:
                    reasons.append(f"{share:.0%} of its translations are {word} than 99% of real {target.upper()} "
                                   f"images (mean intensity {float(means.mean()):.3f} against {ref.mean:.3f})")
            if reasons:
                self.warn(f"genlab: warning: possible collapse of {name} ({source.upper()} -> {target.upper()}) at "
                          f"step {step}: {' and '.join(reasons)}; try {self.hint}, or translate with an earlier "
                          f"checkpoint (README: Mode collapse)")
        return out

    def warn(self, line: str) -> None:
        self.warnings.append(line)
        print(line, file=self.stream or sys.stderr, flush=True)

    # -- trainer hooks ----------------------------------------------------------------------
    def on_train_start(self, trainer: "Trainer") -> None:
        tensors = trainer.data.tensors
        g = torch.Generator().manual_seed(self.seed)
        count = min(len(tensors["a"]), max(self.n, self.n_reference))
        idx = torch.randperm(len(tensors["a"]), generator=g)[:count]
        a01, b01 = (tensors[k][idx].float() for k in ("a", "b"))
        if tensors["a"].dtype == torch.uint8:
            a01, b01 = a01 / 255, b01 / 255
        self.set_data(a01, b01)

    def on_log(self, trainer: "Trainer", step: int, logs: dict[str, Any]) -> None:
        self.logs_seen += 1
        if not self.sources or self.logs_seen % self.every:
            return
        stream = self.stream
        if not trainer.is_main:
            self.stream = NullStream()
        try:
            logs.update(self.check(trainer.model, step))
        finally:
            self.stream = stream

