"""DCGAN: real steps on Fashion-MNIST, shapes at 28/32/64, round trip."""

from __future__ import annotations

import pytest
import torch

from genlab.data import load_dataset
from genlab.models.dcgan import DCGAN, DCGANConfig

from .family_checks import check_family


def test_dcgan_trains_samples_and_round_trips(tmp_path, fashion_dir):
    check_family("dcgan", tmp_path, image_shape=(1, 28, 28), g_width=16, d_width=16)


@pytest.mark.parametrize("size,channels", [(28, 1), (32, 3), (64, 3), (64, 1)])
def test_dcgan_shapes(size, channels):
    info = {"kind": "image", "shape": [channels, size, size], "num_classes": 0}
    model = DCGAN(DCGANConfig(g_width=8, d_width=8), info)
    images = model.sample(4, seed=0)["images"]
    assert images.shape == (4, channels, size, size)
    x = torch.rand(4, channels, size, size) * 2 - 1
    assert model.discriminate(x).shape == (4,)


def test_dcgan_on_digits_resized(tmp_path):
    # scikit-learn's bundled digits, resized to 32x32: works fully offline
    check_family("dcgan", tmp_path, data="digits", image_size=32, image_shape=(1, 32, 32), g_width=8, d_width=8)
    assert load_dataset("digits", image_size=32).info["shape"] == [1, 32, 32]
