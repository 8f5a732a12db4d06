"""In-memory datasets and the batch iterator the Trainer draws from.

Datasets are held as tensors in their stored form (images as uint8, a
quarter of their float32 size) on the training device; a batch is an index
into them, converted to model-ready floats on its own (`to_model`), so no
worker process or collate step stands between the model and its data. `info` is the JSON-ready description
saved in every checkpoint (shape, classes, scalers), so a loaded model knows
what it was trained on without the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import torch

from ..errors import DataError


@dataclass
class TensorData:
    """A dataset held as tensors of equal length along dimension 0.

    `tensors["x"]` is the model input; `tensors["y"]` (optional) the labels.
    Subclasses override `to_model` to turn a batch of stored tensors (e.g.
    uint8 images) into model-ready ones.
    """

    name: str
    tensors: dict[str, torch.Tensor]
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(next(iter(self.tensors.values())).shape[0])

    @property
    def labels(self) -> torch.Tensor | None:
        return self.tensors.get("y")

    @property
    def num_classes(self) -> int:
        return int(self.info.get("num_classes") or 0)

    def on_device(self, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        """The stored tensors on `device`, in their stored dtype (what training indexes batches from)."""
        return {k: v.to(device) for k, v in self.tensors.items()}

    def to_model(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A batch of stored tensors -> model-ready tensors (here: unchanged)."""
        return batch

    def prepare(self, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        """Every item model-ready on `device` (for evaluation and plots; training converts per batch)."""
        return self.to_model(self.on_device(device))

    def subset(self, n: int) -> "TensorData":
        """The first `n` items, same info (for quick runs and tests)."""
        return type(self)(self.name, {k: v[:n] for k, v in self.tensors.items()}, dict(self.info))


class BatchIterator:
    """Shuffled batches over tensors (stored or prepared), resumable and shardable.

    The order of epoch `e` is a permutation drawn from a generator seeded with
    (seed, e), so a run resumed at (epoch, position) sees exactly the batches
    an uninterrupted run would. With `world_size > 1`, each global batch of
    `batch_size * world_size` items is split so that rank r takes the r-th
    slice: together the ranks see the same global batch as a single process.
    """

    def __init__(self, tensors: dict[str, torch.Tensor], batch_size: int, seed: int = 0,
                 rank: int = 0, world_size: int = 1):
        self.tensors = tensors
        self.n = int(next(iter(tensors.values())).shape[0])
        self.batch_size = batch_size
        self.global_batch = batch_size * world_size
        if self.n < self.global_batch:
            raise DataError(
                f"dataset has {self.n} items, fewer than one batch of {self.global_batch}; "
                f"lower --batch-size or use more data"
            )
        self.seed = seed
        self.rank = rank
        self.epoch = 0
        self.position = 0  # batches already taken in this epoch
        self._perm: torch.Tensor | None = None
        self.device = next(iter(tensors.values())).device

    @property
    def batches_per_epoch(self) -> int:
        return self.n // self.global_batch

    def _permutation(self) -> torch.Tensor:
        if self._perm is None:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            self._perm = torch.randperm(self.n, generator=g).to(self.device)
        return self._perm

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed,
                "items": self.position * self.global_batch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Restore; positions are kept in items so a run resumes under another
        number of processes (the global batch may differ)."""
        self.epoch = int(state["epoch"])
        items = int(state.get("items", int(state["position"]) * self.global_batch))
        self.position = items // self.global_batch
        self._perm = None

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        return self

    def __next__(self) -> dict[str, torch.Tensor]:
        if self.position >= self.batches_per_epoch:
            self.epoch += 1
            self.position = 0
            self._perm = None
        start = self.position * self.global_batch + self.rank * self.batch_size
        idx = self._permutation()[start:start + self.batch_size]
        self.position += 1
        return {k: v.index_select(0, idx) for k, v in self.tensors.items()}
