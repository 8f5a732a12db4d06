"""Images stay uint8 on the training device and are converted to floats one batch at a time."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

import genlab
from genlab.data import load_dataset
from genlab.data.images import ImageData
from genlab.data.unpaired import UnpairedData


def test_stored_images_are_uint8_and_convert_like_before(fashion_small):
    data, prepared = fashion_small
    stored = data.on_device("cpu")
    assert stored["x"].dtype == torch.uint8 and stored["y"].dtype == torch.int64
    batch = data.to_model({k: v[:16] for k, v in stored.items()})
    want = data.images[:16].float() / 127.5 - 1.0
    assert batch["x"].dtype == torch.float32 and torch.equal(batch["x"], want)
    assert torch.equal(batch["x"], prepared["x"][:16]) and torch.equal(batch["y"], data.labels[:16])
    assert stored["x"].element_size() == 1  # one byte a pixel on the device, no float copy


def test_trainer_draws_uint8_batches_and_converts_each(monkeypatch, tmp_path, fashion_dir):
    seen: list[tuple[torch.dtype, int]] = []
    original = ImageData.to_model

    def spy(self, batch):
        seen.append((batch["x"].dtype, batch["x"].shape[0]))
        out = original(self, batch)
        assert out["x"].dtype == torch.float32 and -1 <= out["x"].min() and out["x"].max() <= 1
        return out

    monkeypatch.setattr(ImageData, "to_model", spy)
    genlab.train("dcgan", data="fashion-mnist", out=tmp_path / "run", steps=3, batch_size=16, limit=256,
                 g_width=8, d_width=8, log_every=1, sample_every=0, checkpoint_every=0, tensorboard=False,
                 progress=False, grid_size=4)
    assert all(dtype == torch.uint8 for dtype, _ in seen)
    assert seen[0] == (torch.uint8, 4)  # the preview batch
    assert [n for _, n in seen].count(16) == 3  # one conversion per training batch


def test_unpaired_domains_stay_uint8(tmp_path):
    root = tmp_path / "uv"
    rng = np.random.default_rng(0)
    for d in ("trainA", "trainB"):
        (root / d).mkdir(parents=True)
        for i in range(8):
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(root / d / f"{i}.png")
    data = load_dataset(f"unpaired:{root}")
    assert isinstance(data, UnpairedData)
    stored = data.on_device("cpu")
    assert set(stored) == {"a", "b"} and all(v.dtype == torch.uint8 for v in stored.values())
    batch = data.to_model({k: v[:4] for k, v in stored.items()})
    assert torch.equal(batch["a"], data.a[:4].float() / 127.5 - 1.0)
