"""CVAE: real steps, round trip, conditional sampling through the API and the
CLI, label errors, and conditional evaluation and exploration."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import genlab
from genlab.cli import main
from genlab.data import load_dataset
from genlab.errors import GenlabError
from genlab.models.cvae import CVAE, CVAEConfig

from .family_checks import check_family, read_metrics, train_small


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from .conftest import require_fashion

    require_fashion()
    tmp = tmp_path_factory.mktemp("cvae")
    check_family("cvae", tmp, image_shape=(1, 28, 28), width=8, steps=6)
    return tmp / "cvae"


def test_cvae_trains_samples_and_round_trips(run):
    model = genlab.load(run)
    assert model.family == "cvae" and model.conditional and model.num_classes == 10


def test_cvae_loss_falls_on_mnist(tmp_path, mnist_t10k):
    out = tmp_path / "mnist"
    train_small("cvae", out, data="mnist", data_root=str(mnist_t10k), split="test", steps=40,
                architecture="mlp", hidden=64, binarize=True, log_every=10)
    rows = read_metrics(out)
    assert rows[-1]["loss"] < rows[0]["loss"]


def test_conditional_sampling_returns_the_asked_labels(run):
    model = genlab.load(run)
    out = model.sample(6, seed=0, labels=3)
    assert out["labels"].tolist() == [3] * 6 and out["images"].shape == (6, 1, 28, 28)
    out = model.sample(3, seed=0, labels=[0, 5, 9])
    assert out["labels"].tolist() == [0, 5, 9]
    drawn = model.sample(40, seed=1)["labels"]  # no labels: uniform classes, returned
    assert drawn.min() >= 0 and drawn.max() <= 9 and len(set(drawn.tolist())) > 3
    # the decoder uses the label: the same z under two classes gives two images
    z = model.latent(4, torch.Generator().manual_seed(0))
    a = model.sample(4, z=z, labels=1)["images"]
    b = model.sample(4, z=z, labels=7)["images"]
    assert (a - b).abs().mean() > 1e-3
    with pytest.raises(GenlabError, match="class 10 is out of range.*9=Ankle boot"):
        model.sample(2, labels=10)
    with pytest.raises(GenlabError, match="got 3 labels for 2 samples"):
        model.sample(2, labels=[1, 2, 3])


def test_sample_cli_with_class(run, tmp_path, capsys):
    npz = tmp_path / "s.npz"
    assert main(["sample", str(run), "--n", "5", "--class", "2", "--out", str(npz)]) == 0
    with np.load(npz) as f:
        assert f["labels"].tolist() == [2] * 5 and f["images"].shape == (5, 28, 28)
    assert main(["sample", str(run), "--n", "5", "--class", "12", "--out", str(npz)]) == 2
    err = capsys.readouterr().err
    assert "class 12 is out of range" in err and len(err.strip().splitlines()) == 1


def test_unconditional_vae_refuses_class(tmp_path, fashion_dir, capsys):
    train_small("vae", tmp_path / "vae", steps=1, width=8)
    assert main(["sample", str(tmp_path / "vae"), "--class", "1", "--out", str(tmp_path / "a.png")]) == 2
    assert "not conditional" in capsys.readouterr().err


def test_cvae_needs_labelled_data(tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(folder / f"{i}.png")
    with pytest.raises(GenlabError, match="conditional and needs labelled data"):
        train_small("cvae", tmp_path / "run", data=f"folder:{folder}", steps=1, limit=None)


def test_cvae_condition_and_soft_labels():
    model = CVAE(CVAEConfig(architecture="mlp", hidden=16, latent_dim=2),
                 {"kind": "image", "shape": [1, 28, 28], "num_classes": 3})
    assert model.condition(torch.tensor([2, 0])).tolist() == [[0, 0, 1], [1, 0, 0]]
    soft = torch.tensor([[0.5, 0.5, 0.0]])
    assert torch.equal(model.condition(soft), soft)
    with pytest.raises(GenlabError, match="N x 3"):
        model.condition(torch.ones(1, 4))
    with pytest.raises(GenlabError, match="needs class labels"):
        model.decode(torch.zeros(1, 2))


def test_cvae_evaluates_and_explores(run, tmp_path):
    model = genlab.load(run)
    m = model.evaluate(load_dataset("fashion-mnist", split="test"), n=32, k=16)
    assert m["nll_iwae"] <= -m["elbo"] + 0.5 and 0 <= m["active_units"] <= 16
    with pytest.raises(GenlabError, match="needs labelled evaluation data"):
        model.evaluate({"x": torch.zeros(2, 1, 28, 28)})
    assert main(["explore", "vae-traverse", str(run), "--out", str(tmp_path / "t.png"), "--class", "7",
                 "--dims", "3", "--steps", "5", "--n-rank", "100"]) == 0
    with Image.open(tmp_path / "t.png") as im:
        assert im.size == (2 + 30 * 5, 2 + 30 * 3)
    assert main(["explore", "vae-interpolate", str(run), "--out", str(tmp_path / "i.png"), "--pairs", "2"]) == 0
    assert main(["explore", "reconstruct", str(run), "--out", str(tmp_path / "r.png"), "--n", "8"]) == 0
    assert all((tmp_path / f).is_file() for f in ("t.png", "i.png", "r.png"))
