"""Shared fixtures: offline mode, small real datasets, temporary runs.

Debian packages the tests need (Fashion-MNIST, the word list, chromium and its
driver) are installed by `make system-deps`, which `make test` runs first.
Outside make a missing package skips its tests with the install command;
under make (GENLAB_TEST_STRICT=1) it fails them, so `make test` never passes
by skipping. Data no registry installs (the MNIST test split, stock prices)
comes from ../shared/data where present and is written in the same format
otherwise (tests/datafiles.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ["GENLAB_OFFLINE"] = "1"  # tests never download
torch.set_num_threads(min(2, torch.get_num_threads()))

REPO = Path(__file__).resolve().parents[1]
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
WORDS_FILE = Path("/usr/share/dict/american-english")
STRICT = os.environ.get("GENLAB_TEST_STRICT", "") == "1"


def need_system(present: bool, package: str) -> None:
    """Skip the test when Debian package `package` is missing, or fail it under `make test`."""
    if present:
        return
    message = f"Debian package {package} is not installed (make system-deps, or apt-get install {package})"
    if STRICT:
        pytest.fail(message)
    pytest.skip(message)


def require_fashion() -> None:
    need_system((FASHION_DIR / "train-images-idx3-ubyte.gz").is_file(), "dataset-fashion-mnist")


def require_words() -> None:
    need_system(WORDS_FILE.is_file(), "wamerican")


@pytest.fixture
def fashion_dir() -> Path:
    require_fashion()
    return FASHION_DIR


@pytest.fixture
def words() -> Path:
    """Debian's word list (package wamerican), which the `words` dataset reads."""
    require_words()
    return WORDS_FILE


@pytest.fixture
def mnist_t10k() -> Path:
    """MNIST's test split (t10k IDX files): ../shared/data/mnist-t10k, or 10,000 digits written in its format."""
    from .datafiles import mnist_t10k as folder

    return folder()


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
