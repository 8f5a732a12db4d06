"""Shared checks every model family's tests run (the diffusers/mimicry way).

`check_family` trains a few real steps on small real data through the public
API and asserts what every family must do: finite losses that change, samples
of the right shape and range, and save -> load -> sample giving identical
output for the same seed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

import genlab


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]


def train_small(family: str, run_dir: Path, data: str = "fashion-mnist", steps: int = 6, **options: Any):
    defaults = dict(steps=steps, batch_size=16, limit=256, log_every=1, sample_every=0, checkpoint_every=0,
                    tensorboard=False, progress=False, grid_size=16, seed=0)
    defaults.update(options)
    return genlab.train(family, data=data, out=run_dir, **defaults)


def check_family(family: str, tmp_path: Path, data: str = "fashion-mnist", steps: int = 6,
                 loss_keys: tuple[str, ...] | None = None, image_shape: tuple[int, ...] | None = None,
                 **options: Any) -> genlab.GenlabError | Any:
    """Train, check losses, sample, save/load round trip. Returns the loaded model."""
    run_dir = tmp_path / family
    result = train_small(family, run_dir, data=data, steps=steps, **options)
    assert result.step == steps and not result.interrupted

    rows = read_metrics(run_dir)
    assert len(rows) == steps
    keys = loss_keys or tuple(k for k in rows[0] if k not in ("step", "time", "images_per_s"))
    assert keys, "train_step returned no losses"
    for k in keys:
        values = [r[k] for r in rows]
        assert all(math.isfinite(v) for v in values), f"{k} not finite: {values}"
        assert max(values) - min(values) > 1e-7, f"{k} never changed: {values}"

    model = genlab.load(run_dir)
    assert model.family == family
    out = model.sample(8, seed=123)
    images = out["images"]
    assert images.dtype == torch.float32 and images.dim() == 4 and images.shape[0] == 8
    if image_shape is not None:
        assert tuple(images.shape[1:]) == tuple(image_shape)
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert torch.isfinite(images).all()

    # save -> load -> sample round-trips exactly
    again = genlab.load(run_dir).sample(8, seed=123)["images"]
    assert torch.equal(images, again)
    model.save_pretrained(tmp_path / "pretrained")
    reloaded = type(model).from_pretrained(tmp_path / "pretrained")
    assert torch.equal(reloaded.sample(8, seed=123)["images"], images)
    # a different seed gives different samples
    assert not torch.equal(model.sample(8, seed=124)["images"], images)
    return model
