"""VAE evaluation (ELBO, IWAE bound, reconstruction, active units) and the VAE
explorations, run through the real `genlab` command line."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

import genlab
from genlab.cli import main
from genlab.data import TensorData, load_dataset
from genlab.errors import DataError, GenlabError
from genlab.models.dcgan import DCGAN, DCGANConfig
from genlab.models.vae import VAE, VAEConfig

from .family_checks import train_small

KEYS = {"elbo", "rec_nll", "kl", "nll_iwae", "bits_per_dim", "recon_mse", "recon_bce", "active_units",
        "latent_dim", "iwae_k", "n_images"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small MLP VAE with a 2-D latent, 150 real steps on 512 Fashion-MNIST images."""
    from .conftest import require_fashion

    require_fashion()
    run = tmp_path_factory.mktemp("vae-eval") / "run"
    train_small("vae", run, steps=150, architecture="mlp", hidden=64, latent_dim=2, log_every=50, lr=2e-3,
                likelihood="bernoulli")
    return run


@pytest.fixture(scope="module")
def test_data():
    from .conftest import require_fashion

    require_fashion()
    return load_dataset("fashion-mnist", split="test")


def test_iwae_bound_is_tighter_than_the_elbo(trained, test_data):
    model = genlab.load(trained)
    m = model.evaluate(test_data, n=64, seed=0, k=64)
    assert KEYS <= set(m) and all(math.isfinite(v) for v in m.values())
    assert m["n_images"] == 64 and m["iwae_k"] == 64 and m["latent_dim"] == 2
    assert math.isclose(m["elbo"], -(m["rec_nll"] + m["kl"]), rel_tol=1e-6)
    # log p(x) >= IWAE_k >= ELBO: the k-sample estimate of the NLL lies below -ELBO
    assert m["nll_iwae"] <= -m["elbo"] + 0.5
    assert m["nll_iwae"] > 0 and m["kl"] > 0
    assert m["bits_per_dim"] == pytest.approx(m["nll_iwae"] / (784 * math.log(2)))
    assert 0 <= m["active_units"] <= 2 and float(m["active_units"]).is_integer()
    assert 0 < m["recon_mse"] < 0.2

    # training helped: an untrained model of the same config scores far worse
    fresh = type(model)(model.config, model.data_info)
    m0 = fresh.evaluate(test_data, n=64, seed=0, k=8)
    assert m["nll_iwae"] < m0["nll_iwae"] - 50 and m["recon_mse"] < m0["recon_mse"]

    # same seed, same numbers; the model is left in the mode it was in
    model.train()
    again = model.evaluate(test_data, n=64, seed=0, k=64)
    assert again == m and model.training


def test_active_units_follow_the_posterior_means(trained, test_data):
    model = genlab.load(trained)
    x01, _ = model.eval_tensors(test_data, n=128)
    variance = model.posterior_mean(x01).var(0)
    m = model.evaluate(test_data, n=128, k=2)
    assert m["active_units"] == float((variance > 0.01).sum())
    # a collapsed encoder (posterior = prior for every x) has no active unit
    with torch.no_grad():
        model.encoder.head.weight.zero_()
        model.encoder.head.bias.zero_()
    m = model.evaluate(test_data, n=128, k=4)
    assert m["active_units"] == 0 and m["kl"] == pytest.approx(0, abs=1e-6)


def test_evaluate_refuses_mismatched_data(trained):
    model = genlab.load(trained)
    with pytest.raises(DataError, match="image_size=28"):
        model.evaluate(TensorData("small", {"x": torch.zeros(4, 1, 8, 8)}))
    with pytest.raises(DataError, match="no images"):
        model.evaluate(TensorData("empty", {"x": torch.zeros(0, 1, 28, 28)}))
    with pytest.raises(GenlabError, match="k >= 1"):
        model.evaluate(load_dataset("fashion-mnist", split="test"), n=4, k=0)


def png_size(path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


def test_explorers_write_pngs_through_the_cli(trained, tmp_path, capsys):
    out = tmp_path / "x"
    # 28 px images with 2 px padding: a grid of c columns is 2 + 30 c pixels wide
    assert main(["explore", "reconstruct", str(trained), "--out", str(out / "rec.png"), "--n", "12",
                 "--ncol", "6"]) == 0
    assert png_size(out / "rec.png") == (2 + 30 * 6, 2 + 30 * 4)
    assert main(["explore", "vae-traverse", str(trained), "--out", str(out / "trav.png"), "--steps", "7",
                 "--n-rank", "200"]) == 0
    assert png_size(out / "trav.png") == (2 + 30 * 7, 2 + 30 * 2)  # one row per latent dimension
    assert main(["explore", "vae-interpolate", str(trained), "--out", str(out / "interp.png"), "--pairs", "3",
                 "--steps", "5", "--mode", "slerp"]) == 0
    assert png_size(out / "interp.png") == (2 + 30 * 7, 2 + 30 * 3)
    assert main(["explore", "manifold", str(trained), "--out", str(out / "manifold.png"), "--side", "5"]) == 0
    assert png_size(out / "manifold.png") == (2 + 30 * 5, 2 + 30 * 5)
    assert main(["explore", "scatter", str(trained), "--out", str(out / "scatter.png"), "--n", "300"]) == 0
    with Image.open(out / "scatter.png") as im:
        pixels = np.asarray(im.convert("RGB"))
    assert pixels.std() > 5  # a plot, not a blank image
    printed = capsys.readouterr().out
    assert printed.count("wrote ") == 5

    # --items restricts the real images to a part of the split (a held-out part, say)
    assert main(["explore", "reconstruct", str(trained), "--items", "9990:", "--n", "30", "--ncol", "5",
                 "--out", str(out / "tail.png")]) == 0
    assert png_size(out / "tail.png") == (2 + 30 * 5, 2 + 30 * 4)  # 10 images: 2 pairs of rows
    with Image.open(out / "tail.png") as im:
        grid = np.asarray(im.convert("L"), dtype=np.float32) / 255
    tail = load_dataset("fashion-mnist", split="test").tensors["x"][9990:].float() / 255
    first = torch.from_numpy(grid[2:30, 2:30].copy())
    assert min(float((first - t[0]).abs().max()) for t in tail) < 1.5 / 255

    # the interpolation's end columns are the real test images
    model = genlab.load(trained)
    with Image.open(out / "interp.png") as im:
        grid = np.asarray(im.convert("L"), dtype=np.float32) / 255
    x01, _ = model.eval_tensors(load_dataset("fashion-mnist", split="test"), n=6, seed=0, binarize=False)
    first = grid[2:30, 2:30]
    assert np.abs(first - x01[0, 0].numpy()).max() < 1.5 / 255


def test_explorer_errors_are_one_line(trained, tmp_path, capsys):
    info = {"kind": "image", "shape": [1, 28, 28], "num_classes": 10, "dataset": "fashion-mnist"}
    big = VAE(VAEConfig(latent_dim=3, width=8), info).save_pretrained(tmp_path / "big")
    assert main(["explore", "manifold", str(big), "--out", str(tmp_path / "m.png")]) == 2
    assert "latent_dim=3" in capsys.readouterr().err
    assert main(["explore", "manifold", str(trained), "--class", "1", "--out", str(tmp_path / "m.png")]) == 2
    assert "not conditional" in capsys.readouterr().err
    assert main(["explore", "reconstruct", str(trained), "--out", str(tmp_path / "r.txt")]) == 2
    assert ".png" in capsys.readouterr().err
    assert main(["explore", "reconstruct", str(trained), "--items", "20000:", "--out", str(tmp_path / "r.png")]) == 2
    assert "--items '20000:'" in capsys.readouterr().err
    dcgan = DCGAN(DCGANConfig(g_width=8, d_width=8), info).save_pretrained(tmp_path / "dcgan")
    assert main(["explore", "vae-traverse", str(dcgan), "--out", str(tmp_path / "t.png")]) == 2
    err = capsys.readouterr().err
    assert "VAE families" in err and len(err.strip().splitlines()) == 1
