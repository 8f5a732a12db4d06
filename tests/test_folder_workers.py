"""folder: data decoded in worker processes gives exactly what the main process gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.data import load_dataset
from genlab.data.images import PARALLEL_DECODE_MIN_FILES


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory):
    """Two class folders of RGB images of two sizes, plus an unreadable and a truncated file."""
    root = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    n = PARALLEL_DECODE_MIN_FILES + 40
    for i in range(n):
        cls = root / ("cats" if i % 2 else "dogs")
        cls.mkdir(exist_ok=True)
        side = 16 if i % 5 else 20
        Image.fromarray(rng.integers(0, 256, (side, side + 2 * (i % 3), 3), dtype=np.uint8)).save(cls / f"{i:04d}.png")
    (root / "dogs" / "notes.txt").write_text("not an image")
    good = (root / "cats" / "0001.png").read_bytes()
    (root / "cats" / "zz-truncated.png").write_bytes(good[: len(good) // 2])
    return root, n


def test_worker_processes_decode_identically(big_folder, capsys):
    root, n = big_folder
    serial = load_dataset(f"folder:{root}", workers=0)
    err = capsys.readouterr().err
    parallel = load_dataset(f"folder:{root}", workers=2)
    assert "skipped 2 unreadable file(s)" in err
    assert serial.images.shape == (n, 3, 16, 16) and serial.images.dtype == torch.uint8
    assert torch.equal(serial.images, parallel.images)
    assert torch.equal(serial.labels, parallel.labels)
    assert serial.labels.bincount().tolist() == [n // 2, n // 2]
    assert serial.info["class_names"] == ["cats", "dogs"] == parallel.info["class_names"]


def test_num_workers_reaches_the_folder_loader(big_folder, tmp_path):
    import genlab

    root, _ = big_folder
    run = genlab.train("vae", data=f"folder:{root}", out=tmp_path / "run", steps=2, batch_size=16, num_workers=2,
                       architecture="mlp", hidden=16, log_every=1, sample_every=0, checkpoint_every=0,
                       tensorboard=False, progress=False)
    assert run.step == 2
    # datasets without a decoding step ignore the setting rather than failing
    run = genlab.train("vae", data="digits", out=tmp_path / "run2", steps=1, batch_size=16, num_workers=2,
                       architecture="mlp", hidden=16, log_every=1, sample_every=0, checkpoint_every=0,
                       tensorboard=False, progress=False)
    assert run.step == 1
