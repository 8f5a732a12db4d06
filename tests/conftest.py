"""Shared fixtures: offline mode, small real datasets, temporary runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ["GENLAB_OFFLINE"] = "1"  # tests never download
torch.set_num_threads(min(2, torch.get_num_threads()))

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
MNIST_T10K = SHARED_DATA / "mnist-t10k"


def require_fashion() -> None:
    if not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")


@pytest.fixture
def fashion_dir() -> Path:
    require_fashion()
    return FASHION_DIR


@pytest.fixture
def mnist_t10k() -> Path:
    if not (MNIST_T10K / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("MNIST test split not found in ../shared/data/mnist-t10k")
    return MNIST_T10K


@pytest.fixture
def one_thread():
    """One intra-op thread for tests of many tiny steps (two threads only add overhead there)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def fashion_small():
    """The first 256 Fashion-MNIST training items and their prepared tensors."""
    from genlab.data import load_dataset

    require_fashion()
    data = load_dataset("fashion-mnist").subset(256)
    return data, data.prepare()
