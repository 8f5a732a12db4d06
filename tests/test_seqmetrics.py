"""Sequence scores on known cases: real vs real, trivially different data, word statistics."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from genlab.data import load_dataset
from genlab.errors import GenlabError
from genlab.seqmetrics import (
    bigram_distribution,
    discriminative_score,
    drop_constant_features,
    js_divergence,
    plot_pca_tsne,
    predictive_score,
    text_metrics,
)


@pytest.fixture(scope="module")
def sines():
    return load_dataset("sines", n=1200).tensors["x"]


def test_discriminative_real_vs_real_is_near_zero(sines):
    score = discriminative_score(sines[:400], sines[400:800], steps=300, batch_size=64)
    assert 0 <= score < 0.15


def test_discriminative_trivially_different_scores_high(sines):
    noise = torch.rand(400, 24, 5, generator=torch.Generator().manual_seed(0))
    assert discriminative_score(sines[:400], noise, steps=300, batch_size=64) > 0.4
    halved = sines[400:800] * 0.5  # same dynamics, half the amplitude and level
    assert discriminative_score(sines[:400], halved, steps=300, batch_size=64) > 0.4


def test_predictive_score_orders_real_above_noise(sines):
    noise = torch.rand(600, 24, 5, generator=torch.Generator().manual_seed(0))
    on_real = predictive_score(sines[:600], sines[600:], steps=300, batch_size=64, lr=5e-3)
    on_noise = predictive_score(sines[:600], noise, steps=300, batch_size=64, lr=5e-3)
    # TimeGAN reports 0.094 for a predictor trained on the real sines
    assert on_real < 0.11 and on_noise > 0.15 and on_noise > 2 * on_real


def test_constant_features_are_left_out_of_both_scores(sines):
    # a fourth feature constant in the real data (as the chorales' velocity) that the synthetic data miss
    real = torch.cat([sines[:400], torch.zeros(400, 24, 1)], -1)
    fake = torch.cat([sines[400:800], torch.full((400, 24, 1), 0.05)], -1)
    assert drop_constant_features(real, fake)[0].shape == (400, 24, 5)
    assert discriminative_score(real, fake, steps=300, batch_size=64) < 0.15  # not told apart by the constant
    on_real = predictive_score(sines[:400], sines[400:800], steps=300, batch_size=64, lr=5e-3)
    # the score predicts the last *varying* feature: the same as without the constant column
    assert predictive_score(real, fake, steps=300, batch_size=64, lr=5e-3) == pytest.approx(on_real, abs=1e-6)
    with pytest.raises(GenlabError, match="every feature of the real sequences is constant"):
        discriminative_score(torch.zeros(20, 24, 2), fake[:20, :, :2])


def test_scores_check_inputs(sines):
    with pytest.raises(GenlabError, match="differ in shape"):
        discriminative_score(sines[:50], sines[:50, :10])
    with pytest.raises(GenlabError, match="NaN"):
        predictive_score(sines[:50], torch.full((50, 24, 5), float("nan")))


def test_js_divergence_and_text_metrics():
    assert js_divergence(Counter("aabb"), Counter("abab")) == pytest.approx(0.0)
    assert js_divergence(Counter("aa"), Counter("bb")) == pytest.approx(1.0)
    assert bigram_distribution(["ab"]) == Counter({"\x02a": 1, "ab": 1, "b\x03": 1})
    train, every = ["cat", "dog"], ["cat", "dog", "cow", "pig"]
    m = text_metrics(["cat", "cow", "zzq", "zzq"], train, every, ["cow", "pig"])
    assert m["novel"] == 0.75 and m["real_words"] == 0.5 and m["novel_real_words"] == 0.25
    assert m["unique"] == 0.75 and m["mean_length"] == 3.0
    same = text_metrics(["cow", "pig"], train, every, ["cow", "pig"])
    assert same["bigram_js"] == pytest.approx(0.0) and m["bigram_js"] > 0.2


def test_pca_tsne_plot(tmp_path, sines):
    path = plot_pca_tsne(sines[:40], torch.rand(40, 24, 5), tmp_path / "p.png", n=40)
    assert path.stat().st_size > 2000
