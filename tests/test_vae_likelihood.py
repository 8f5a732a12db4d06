"""Each VAE likelihood's loss against a hand computation on a tiny batch of real images.

The hand values are computed independently of genlab's code, in float64 with
NumPy and SciPy: Bernoulli by its formula x log p + (1 - x) log (1 - p),
Gaussian with `scipy.stats.norm.logpdf`, the discretised logistic as the
probability mass of each pixel's bin from `scipy.stats.logistic.cdf`
(CDF differences, the end bins open to -inf and +inf), and the KL of two
diagonal Gaussians by its formula. `train_step`'s logged loss, reconstruction
term and KL must equal them, with the step's own noise replayed on a copy of the
model taken before the step.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from scipy import stats

from genlab.data import load_dataset
from genlab.models.vae import VAE, VAEConfig

HALF_BIN = 0.5 / 255


def hand_log_likelihood(model: VAE, out: np.ndarray, x: np.ndarray) -> np.ndarray:
    """log p(x|z) per image, summed over pixels, from the decoder output `out` (float64)."""
    c = model.config
    if c.likelihood == "bernoulli":
        p = 1 / (1 + np.exp(-out))
        per_pixel = x * np.log(p) + (1 - x) * np.log1p(-p)
    elif c.likelihood == "gaussian":
        sigma = c.sigma if c.sigma is not None else math.exp(max(float(model.log_sigma.detach()), math.log(1e-3)))
        per_pixel = stats.norm.logpdf(x, loc=out, scale=sigma)
    else:
        loc, log_scale = out[:, :1], out[:, 1:]
        s = np.exp(log_scale)
        upper = np.where(x > 1 - HALF_BIN, 1.0, stats.logistic.cdf(x + HALF_BIN, loc=loc, scale=s))
        lower = np.where(x < HALF_BIN, 0.0, stats.logistic.cdf(x - HALF_BIN, loc=loc, scale=s))
        per_pixel = np.log(upper - lower)
    return per_pixel.reshape(len(x), -1).sum(1)


def hand_kl(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """KL(N(mu, exp(logvar)) || N(0, 1)) summed over latent dimensions."""
    return 0.5 * (mu ** 2 + np.exp(logvar) - 1 - logvar).sum(1)


@pytest.fixture(scope="module")
def batch():
    from .conftest import require_fashion

    require_fashion()
    return load_dataset("fashion-mnist", split="test").subset(4).prepare()


@pytest.mark.parametrize("options", [
    {"likelihood": "bernoulli"},
    {"likelihood": "gaussian", "sigma": 0.2},
    {"likelihood": "gaussian"},
    {"likelihood": "logistic"},
], ids=["bernoulli", "gaussian-fixed", "gaussian-learned", "logistic"])
def test_each_likelihoods_loss_equals_a_hand_computation(batch, options):
    torch.manual_seed(0)
    model = VAE(VAEConfig(width=8, latent_dim=4, beta=0.5, **options),
                {"kind": "image", "shape": [1, 28, 28], "num_classes": 10})
    if "log_sigma" in dict(model.named_parameters()):
        with torch.no_grad():
            model.log_sigma.fill_(math.log(0.3))  # a learned std away from its starting value
    model.setup_training()
    before = copy.deepcopy(model)

    torch.manual_seed(1)
    logs = model.train_step(batch, step=0)

    torch.manual_seed(1)  # replay the step's noise on the weights it started from
    x01 = (batch["x"] + 1) / 2
    with torch.no_grad():
        mu, logvar = before.encode(x01)
        z = mu + torch.randn(*mu.shape) * (0.5 * logvar).exp()
        out = before.decode(z)
    x = x01.double().numpy()
    assert set(np.unique(np.round(x * 255, 3)) % 1) == {0.0}  # 256 grey levels, as the logistic assumes
    rec = -hand_log_likelihood(before, out.double().numpy(), x).mean()
    kl = hand_kl(mu.double().numpy(), logvar.double().numpy()).mean()
    assert float(logs["rec"]) == pytest.approx(rec, rel=1e-5)
    assert float(logs["kl"]) == pytest.approx(kl, rel=1e-5, abs=1e-6)
    assert float(logs["loss"]) == pytest.approx(rec + 0.5 * kl, rel=1e-5)
    assert float(logs["elbo"]) == pytest.approx(-(rec + kl), rel=1e-5)
