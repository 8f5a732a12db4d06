"""Datasets by name, lookup order, folders, and clear errors for missing data."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.data import BatchIterator, load_dataset
from genlab.errors import DataError


def test_fashion_mnist_from_debian(fashion_dir):
    d = load_dataset("fashion-mnist", split="test")
    assert len(d) == 10000 and d.images.dtype == torch.uint8 and d.images.shape[1:] == (1, 28, 28)
    assert d.labels.shape == (10000,) and d.num_classes == 10
    assert d.info["class_names"][9] == "Ankle boot"
    x = d.prepare()["x"]
    assert x.min() >= -1 and x.max() <= 1 and x.dtype == torch.float32


def test_mnist_from_data_root(mnist_t10k):
    d = load_dataset("mnist", root=str(mnist_t10k), split="test")
    assert len(d) == 10000 and d.num_classes == 10


def test_missing_dataset_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(DataError) as err:
        load_dataset("mnist", root=str(tmp_path), split="train")
    msg = str(err.value)
    assert "not found" in msg and "--data-root" in msg and "\n" not in msg


def test_torchvision_layout_is_found(tmp_path, mnist_t10k):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in mnist_t10k.glob("t10k-*"):
        with gzip.open(f) as src, open(raw / f.name[:-3], "wb") as dst:  # uncompressed, as torchvision leaves them
            shutil.copyfileobj(src, dst)
    assert len(load_dataset("mnist", root=str(tmp_path), split="test")) == 10000


def test_truncated_idx_is_reported(tmp_path, mnist_t10k):
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(gzip.open(mnist_t10k / "t10k-images-idx3-ubyte.gz").read()[:5000])
    shutil.copy(mnist_t10k / "t10k-labels-idx1-ubyte.gz", tmp_path)
    with pytest.raises(DataError, match="truncated"):
        load_dataset("mnist", root=str(tmp_path), split="test")


def test_unknown_dataset_and_split():
    with pytest.raises(DataError) as err:
        load_dataset("imagenet")
    assert "valid datasets" in str(err.value) and "fashion-mnist" in str(err.value)
    with pytest.raises(DataError, match="valid splits"):
        load_dataset("digits", split="val")


def test_digits_offline_and_resize():
    d = load_dataset("digits", image_size=28)
    assert d.images.shape[1:] == (1, 28, 28) and d.num_classes == 10
    assert len(load_dataset("digits", split="test")) + len(d) == 1797


def _write_images(folder, n, size=(20, 20), mode="RGB"):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
        Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode).save(folder / f"{i}.png")


def test_folder_with_classes_and_bad_files(tmp_path, capsys):
    _write_images(tmp_path / "cats", 3)
    _write_images(tmp_path / "dogs", 2, size=(24, 30))
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    d = load_dataset(f"folder:{tmp_path}", image_size=16)
    assert d.images.shape == (5, 3, 16, 16)
    assert d.labels.tolist() == [0, 0, 0, 1, 1] and d.info["class_names"] == ["cats", "dogs"]
    assert "skipped 1 unreadable" in capsys.readouterr().err
    with pytest.raises(DataError, match="not readable images"):
        load_dataset(f"folder:{tmp_path}", strict=True)


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(f"folder:{tmp_path / 'nope'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no files"):
        load_dataset(f"folder:{tmp_path / 'empty'}")
    with pytest.raises(DataError, match="takes no path"):
        load_dataset("digits:/x")


def test_batch_iterator_is_resumable_and_shards():
    tensors = {"x": torch.arange(40).float(), "y": torch.arange(40)}
    it = BatchIterator(tensors, 8, seed=3)
    seen = [next(it)["y"] for _ in range(7)]  # crosses an epoch boundary (5 batches per epoch)
    assert torch.equal(torch.sort(torch.cat(seen[:5])).values, torch.arange(40))
    resumed = BatchIterator(tensors, 8, seed=3)
    it2 = BatchIterator(tensors, 8, seed=3)
    for _ in range(4):
        next(it2)
    resumed.load_state_dict(it2.state_dict())
    assert torch.equal(next(resumed)["y"], seen[4])
    # two ranks of 4 see the same global batch as one process of 8
    r0 = BatchIterator(tensors, 4, seed=3, rank=0, world_size=2)
    r1 = BatchIterator(tensors, 4, seed=3, rank=1, world_size=2)
    for s in seen[:3]:
        assert torch.equal(torch.cat([next(r0)["y"], next(r1)["y"]]), s)


def test_too_small_dataset():
    with pytest.raises(DataError, match="fewer than one batch"):
        BatchIterator({"x": torch.zeros(3)}, 8)
