"""The memorisation check: copies of training images are flagged, real held-out images give
about the percentile; `genlab eval` reports it and saves the closest sample/training pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.cli import main
from genlab.metrics import get_extractor
from genlab.metrics import validity as V
from genlab.metrics.memorisation import check, nearest


@pytest.fixture(scope="module")
def fashion_features():
    """Classifier features of 4,000 Fashion-MNIST training images and 2,000 test images."""
    from genlab.data import load_images

    from .conftest import require_fashion

    require_fashion()
    train = load_images("fashion-mnist", split="train").images[:4000]
    test = load_images("fashion-mnist", split="test").images[:2000]
    ext = get_extractor("fashion-mnist-classifier")
    feats = [ext.extract(x).features.double().numpy() for x in (train, test)]
    return train, test, feats[0], feats[1]


def test_nearest_finds_the_brute_force_neighbour():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(70, 5)), rng.normal(size=(300, 5))
    d, i = nearest(a, b, chunk=16)
    brute = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))
    np.testing.assert_allclose(d, brute.min(1), rtol=1e-9)
    assert np.array_equal(i, brute.argmin(1))


def test_held_out_images_give_the_percentile_and_copies_give_one(fashion_features):
    _, _, train, test = fashion_features
    reference, held_out = test[:1000], test[1000:]
    real = check(held_out, train, reference).scores()
    assert real["memorised_p1"] == pytest.approx(0.01, abs=0.015)
    assert real["memorised_p5"] == pytest.approx(0.05, abs=0.03)
    assert 0.85 < real["nn_ratio"] < 1.15
    copies = check(train[:500], train, reference)
    assert copies.scores() == {"memorised_p1": 1.0, "memorised_p5": 1.0, "nn_ratio": 0.0}
    assert copies.closest(3)[0][2] == 0.0 and copies.closest(3)[0][0] == copies.closest(3)[0][1]
    half = check(np.concatenate([train[:500], held_out[:500]]), train, reference).scores()
    assert 0.5 <= half["memorised_p1"] < 0.53  # the copies, and about 1% of the real half


def test_the_protocol_memorisation_disturbance_is_flagged(fashion_features):
    """validity.py's memorisation test (real test images with a growing share of training copies)
    runs through this check: it must rise strictly with the share."""
    train, test, _, _ = fashion_features
    labels = torch.zeros(len(train), dtype=torch.long)
    rows = V.run_protocol("fashion-mnist-classifier", train, labels, test[:1000], labels[:1000],
                          ref_subset=2000, tests=["memorisation"])
    values = [r["memorisation"] for r in rows]
    assert V.verdicts(rows)["memorisation"]["memorisation"], values
    assert values[0] < 0.03 and values[-1] == 1.0


def test_eval_reports_the_check_and_saves_the_closest_pairs(tmp_path, monkeypatch, capsys):
    """`genlab eval` on samples that copy training images (scikit-learn's digits): every sample is
    flagged and the pairs image shows each sample above the identical training image."""
    import json

    from genlab.data import load_images

    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    train = load_images("digits", split="train").images
    copies = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:40]]
    np.savez(tmp_path / "copies.npz", images=copies[:, 0].numpy())
    assert main(["eval", str(tmp_path / "copies.npz"), "--ref", "digits", "--metrics", "fid", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["metrics"]["memorised_p1"] == 1.0 and row["metrics"]["nn_ratio"] == 0.0
    pairs = tmp_path / "copies.closest-train-pairs.png"
    assert row["closest_pairs"] == str(pairs)
    grid = np.asarray(Image.open(pairs).convert("L"), dtype=np.int16)
    side = train.shape[-1]
    top, bottom = grid[2:2 + side], grid[4 + side:4 + 2 * side]  # rows of 8 images, 2-pixel padding
    assert grid.shape[1] == 8 * (side + 2) + 2 and np.array_equal(top, bottom)

    test = load_images("digits", split="test").images
    np.savez(tmp_path / "real.npz", images=test[:, 0].numpy())
    out = tmp_path / "pairs.png"
    assert main(["eval", str(tmp_path / "real.npz"), "--ref", "digits", "--metrics", "fid", "--json",
                 "--pairs-out", str(out)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["metrics"]["memorised_p5"] == pytest.approx(0.05, abs=0.01)  # the test split against itself
    assert out.is_file()
    assert main(["eval", str(tmp_path / "real.npz"), "--ref", "digits", "--metrics", "fid", "--json",
                 "--no-memorisation"]) == 0
    assert "memorised_p1" not in json.loads(capsys.readouterr().out)["metrics"]
