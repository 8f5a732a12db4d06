"""VAE: encoder q(z|x), decoder p(x|z), and the (beta-weighted) ELBO.

Pixels enter as [0, 1] values. The Bernoulli likelihood treats them as
probabilities (binary cross-entropy; exact for binarised data), the Gaussian
one as means with a fixed or learned shared standard deviation.

The training objective is the ELBO with the KL term weighted by beta
(Higgins et al. 2017), optionally warmed up linearly from 0 (KL annealing,
Bowman et al. 2016), or replaced by the capacity objective
``rec + gamma |KL - C(step)|`` of Burgess et al. (2018), C growing linearly.

`evaluate` reports, on held-out images: the ELBO, the importance-weighted
bound on log p(x) (IWAE, Burda et al. 2016) as a negative log-likelihood in
nats, the reconstruction error of the posterior mean and the number of active
latent units.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import DataError, GenlabError
from ...modes import evaluating
from ...nn import MLP
from ...nn.conv import DownStack, Flatten, UpStack
from ...nn.optim import adam
from ...registry import FAMILIES
from ..base import GenerativeModel
from .config import VAEConfig
from ..latent_sampling import LatentSampling

LOG_2PI = math.log(2 * math.pi)
#: smallest learned Gaussian std (keeps the likelihood bounded on near-constant pixels)
MIN_LOG_SIGMA = math.log(1e-3)
#: a latent unit is active when the variance over x of E_q[z_i|x] exceeds this (Burda et al. 2016)
ACTIVE_THRESHOLD = 0.01
#: decoder outputs per image channel: logits, means, or (location, log-scale) of a logistic
OUTPUTS_PER_CHANNEL = {"bernoulli": 1, "gaussian": 1, "logistic": 2}
#: smallest log-scale of the discretised logistic (PixelCNN++'s bound)
MIN_LOG_SCALE = -7.0
#: grey levels of 8-bit images: [0, 1] pixels sit on k / LEVELS_MINUS_1
LEVELS_MINUS_1 = 255.0


def discretized_logistic_log_prob(loc: torch.Tensor, log_scale: torch.Tensor, x01: torch.Tensor) -> torch.Tensor:
    """log P(x) per pixel of 256-level pixels x01 (k / 255) under a logistic with location
    `loc` and log-scale `log_scale` (in [0, 1] units) discretised into the 256 bins
    [x - 1/510, x + 1/510], the first and last bins reaching to -inf and +inf (Salimans et al.
    2017, one mixture component)."""
    half = 0.5 / LEVELS_MINUS_1
    log_scale = log_scale.clamp(min=MIN_LOG_SCALE)
    inv_s = torch.exp(-log_scale)
    centered = x01 - loc
    plus, minus = inv_s * (centered + half), inv_s * (centered - half)
    log_cdf_plus = plus - F.softplus(plus)  # log sigmoid(plus): the lowest bin
    log_one_minus_cdf_minus = -F.softplus(minus)  # log (1 - sigmoid(minus)): the highest bin
    delta = torch.sigmoid(plus) - torch.sigmoid(minus)
    mid = inv_s * centered
    # a bin far in a thin tail: its mass by the density at its centre times its width
    log_mid_density = mid - log_scale - 2 * F.softplus(mid) + math.log(2 * half)
    log_mid = torch.where(delta > 1e-5, torch.log(delta.clamp(min=1e-12)), log_mid_density)
    return torch.where(x01 < half, log_cdf_plus, torch.where(x01 > 1 - half, log_one_minus_cdf_minus, log_mid))


def clipped_logistic_mean(loc: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """E[min(max(X, 0), 1)] for X ~ Logistic(loc, exp(log_scale)): the mean image of the
    logistic likelihood, 1 - s (softplus((1 - loc)/s) - softplus(-loc/s))."""
    s = torch.exp(log_scale.clamp(min=MIN_LOG_SCALE))
    return (1 - s * (F.softplus((1 - loc) / s) - F.softplus(-loc / s))).clamp(0, 1)


class Encoder(nn.Module):
    """x -> (mu, logvar); `extra` inputs (e.g. a one-hot label) are concatenated."""

    def __init__(self, shape, config: VAEConfig, extra: int = 0):
        super().__init__()
        c, h, w = shape
        if config.architecture == "conv":
            self.features = nn.Sequential(DownStack(c + (extra > 0) * extra, h, config.width, norm="batch"),
                                          Flatten())
            with torch.no_grad():
                n_feat = self.features(torch.zeros(2, c + extra, h, w)).shape[1]
        else:
            self.features = nn.Sequential(nn.Flatten(), MLP([c * h * w + extra, config.hidden, config.hidden]), nn.ReLU())
            n_feat = config.hidden
        self.conv = config.architecture == "conv"
        self.head = nn.Linear(n_feat, 2 * config.latent_dim)

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None):
        if extra is not None:
            if self.conv:
                x = torch.cat([x, extra[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)
            else:
                x = torch.cat([x.flatten(1), extra], 1)
        mu, logvar = self.head(self.features(x)).chunk(2, dim=1)
        return mu, logvar.clamp(-30, 20)


class Decoder(nn.Module):
    """z -> pixel logits (Bernoulli) or means (Gaussian), N x C x H x W."""

    def __init__(self, shape, config: VAEConfig, extra: int = 0):
        super().__init__()
        c, h, w = shape
        self.shape = shape
        out_c = c * OUTPUTS_PER_CHANNEL[config.likelihood]
        if config.architecture == "conv":
            self.net = UpStack(config.latent_dim + extra, out_c, h, config.width, norm="batch", project="linear")
        else:
            self.net = nn.Sequential(MLP([config.latent_dim + extra, config.hidden, config.hidden, out_c * h * w]),
                                     nn.Unflatten(1, (out_c, h, w)))

    def forward(self, z: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        if extra is not None:
            z = torch.cat([z, extra], 1)
        return self.net(z)


@FAMILIES.register("vae")
class VAE(LatentSampling, GenerativeModel):
    Config = VAEConfig
    #: 2: the latent sampler options (sampler, sampler_components)
    config_version = 2

    def __init__(self, config: VAEConfig, data_info: dict[str, Any]):
        super().__init__(config, data_info)
        extra = self.condition_size()
        self.encoder = Encoder(self.image_shape, config, extra)
        self.decoder = Decoder(self.image_shape, config, extra)
        if config.likelihood == "gaussian" and config.sigma is None:
            self.log_sigma = nn.Parameter(torch.zeros(()))

    @classmethod
    def migrate(cls, config: dict[str, Any], version: int) -> dict[str, Any]:
        """Version 1 had no sampler options: they take their defaults (resuming an old run
        compares equal); with no mixture fitted, sampling keeps using the prior until
        `genlab fit-sampler RUN` fits one."""
        if version < 2:
            config.setdefault("sampler", cls.Config.sampler)
            config.setdefault("sampler_components", cls.Config.sampler_components)
        return config

    # conditioning hook (cvae overrides)
    def condition_size(self) -> int:
        return 0

    def condition(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        return None

    # -- the model --------------------------------------------------------------------
    def encode(self, x01: torch.Tensor, labels: torch.Tensor | None = None):
        return self.encoder(x01 * 2 - 1, self.condition(labels))

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z, self.condition(labels))

    def mean_image(self, out: torch.Tensor) -> torch.Tensor:
        """E[x|z] in [0, 1] from the decoder's output."""
        if self.config.likelihood == "bernoulli":
            return torch.sigmoid(out)
        if self.config.likelihood == "logistic":
            return clipped_logistic_mean(*out.chunk(2, dim=1))
        return out.clamp(0, 1)

    def log_likelihood(self, out: torch.Tensor, x01: torch.Tensor) -> torch.Tensor:
        """log p(x|z) per item, summed over pixels, in nats."""
        if self.config.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(out, x01, reduction="none").flatten(1).sum(1)
        if self.config.likelihood == "logistic":
            loc, log_scale = out.float().chunk(2, dim=1)
            return discretized_logistic_log_prob(loc, log_scale, x01.float()).flatten(1).sum(1)
        log_sigma = self.log_sigma_value().to(out.device)
        var = torch.exp(2 * log_sigma)
        return -0.5 * (((x01 - out) ** 2) / var + 2 * log_sigma + LOG_2PI).flatten(1).sum(1)

    def log_sigma_value(self) -> torch.Tensor:
        """log std of the Gaussian likelihood (learned and bounded below, or fixed)."""
        if self.config.sigma is None:
            return self.log_sigma.clamp(min=MIN_LOG_SIGMA)
        return torch.tensor(math.log(self.config.sigma), device=self.device)

    @staticmethod
    def kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) || N(0, I)) per item."""
        return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        return (x + 1) / 2

    def forward_elbo(self, x01: torch.Tensor, labels: torch.Tensor | None = None):
        mu, logvar = self.encode(x01, labels)
        # self.randn: on several processes each rank takes its slice of the global batch's noise
        z = mu + self.randn(*mu.shape) * (0.5 * logvar).exp()
        out = self.decode(z, labels)
        return self.log_likelihood(out, x01), self.kl(mu, logvar), out

    # -- training ---------------------------------------------------------------------
    def configure_optimizers(self):
        return {"vae": adam(self.parameters(), self.config.lr, (0.9, 0.999))}

    def beta_at(self, step: int) -> float:
        c = self.config
        return c.beta * (min(1.0, step / c.warmup_steps) if c.warmup_steps else 1.0)

    def binarize_pixels(self, x01: torch.Tensor) -> torch.Tensor:
        """A Bernoulli draw per pixel, 1 with probability x01: u < x01 with u = Phi(g)
        uniform and g from `self.randn` (so each of N processes takes its slice)."""
        return (torch.special.ndtr(self.randn(*x01.shape)) < x01).to(x01.dtype)

    def training_loss(self, batch: dict[str, torch.Tensor], step: int):
        """(loss, logs, z, labels) of one batch: the weighted ELBO (or the capacity objective)."""
        c = self.config
        x01 = self.to_unit(batch["x"])
        if c.binarize:
            x01 = self.binarize_pixels(x01)
        labels = batch.get("y") if self.conditional else None
        mu, logvar = self.encode(x01, labels)
        # self.randn: on several processes each rank takes its slice of the global batch's noise
        z = mu + self.randn(*mu.shape) * (0.5 * logvar).exp()
        ll, kl = self.log_likelihood(self.decode(z, labels), x01), self.kl(mu, logvar)
        rec, kl_mean = -ll.mean(), kl.mean()
        if c.capacity > 0:
            cap = c.capacity * min(1.0, step / c.capacity_steps)
            loss = rec + c.capacity_gamma * (kl_mean - cap).abs()
        else:
            loss = rec + self.beta_at(step) * kl_mean
        logs = {"rec": rec.detach(), "kl": kl_mean.detach(), "elbo": (-(rec + kl_mean)).detach()}
        return loss, logs, z, labels

    def train_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        loss, logs, _, _ = self.training_loss(batch, step)
        self.optimize(loss, self.optimizers["vae"])
        return {"loss": loss.detach(), **logs}

    # -- sampling -----------------------------------------------------------------------
    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.randn(n, self.config.latent_dim, generator=generator)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int | None = None, labels: Any = None, batch_size: int = 500,
               z: torch.Tensor | None = None, sampler: str | None = None) -> dict[str, torch.Tensor]:
        """Mean images of `n` codes: `z`, or drawn from `sampler` (prior | gmm; default the
        config's, see sampler.py). The prior draws the labels and z as `decode_batches` would."""
        if z is None:
            with evaluating(self):
                gen = self.make_generator(seed)
                labels = self.check_labels(labels, n, gen)
                z = self.draw_latents(n, gen, labels, sampler)
        images, labels = self.decode_batches(n, lambda zb, yb: self.mean_image(self.decode(zb, yb)), seed=seed,
                                             labels=labels, z=z, batch_size=batch_size)
        out = {"images": images}
        if labels is not None:
            out["labels"] = labels
        return out

    @torch.no_grad()
    def reconstruct(self, x01: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decoded posterior means of [0, 1] images."""
        with evaluating(self):
            mu, _ = self.encode(x01.to(self.device), labels)
            out = self.mean_image(self.decode(mu, labels)).cpu()
        return out

    @torch.no_grad()
    def preview(self, n: int, batch: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        out = super().preview(n, batch)
        if batch is not None:
            # an even side m so the trainer's square grid (m per row) shows rows of
            # originals, each followed by the row of their reconstructions
            m = max(2, int(math.isqrt(n)) // 2 * 2)
            while m > 2 and m * m // 2 > batch["x"].shape[0]:
                m -= 2
            k = min(m * m // 2, batch["x"].shape[0])
            x01 = self.to_unit(batch["x"][:k])
            labels = batch["y"][:k] if self.conditional and "y" in batch else None
            out["reconstructions"] = pair_rows(x01.cpu(), self.reconstruct(x01, labels), m)
        return out

    # -- evaluation ---------------------------------------------------------------------
    def eval_tensors(self, data: Any, n: int | None = None, seed: int = 0, binarize: bool | None = None):
        """[0, 1] images (binarised with `seed` when the model trains on binarised
        data, or as `binarize` says) and labels of held-out `data`, or `n` of
        them drawn with `seed`."""
        tensors = data.prepare("cpu") if hasattr(data, "prepare") else data
        if not isinstance(tensors, dict) or "x" not in tensors or tensors["x"].dim() != 4:
            raise DataError(f"{self.family} evaluates on image data; pass an image dataset such as "
                            f"{self.data_info.get('dataset', 'fashion-mnist')!r}")
        x = tensors["x"]
        if x.shape[0] == 0:
            raise DataError("the evaluation data holds no images; pass a non-empty split")
        if tuple(x.shape[1:]) != self.image_shape:
            raise DataError(f"the evaluation images are {list(x.shape[1:])} but the model was trained on "
                            f"{list(self.image_shape)}; load the data with image_size={self.image_shape[-1]}")
        labels = tensors.get("y")
        if self.conditional and labels is None:
            raise DataError(f"{self.family} is conditional and needs labelled evaluation data; "
                            f"use a dataset with labels")
        gen = torch.Generator().manual_seed(int(seed))
        if n is not None and n < x.shape[0]:
            if n < 1:
                raise DataError(f"cannot evaluate on {n} images; give n >= 1")
            idx = torch.randperm(x.shape[0], generator=gen)[:n]
            x = x[idx]
            labels = labels[idx] if labels is not None else None
        x01 = self.to_unit(x.float()).clamp_(0, 1)
        if self.config.binarize if binarize is None else binarize:
            x01 = torch.bernoulli(x01, generator=gen)
        if labels is not None and self.conditional:
            if int(labels.min()) < 0 or int(labels.max()) >= self.num_classes:
                raise DataError(f"evaluation labels run {int(labels.min())}..{int(labels.max())} but the model "
                                f"knows {self.num_classes} classes; evaluate on the dataset it was trained on")
            labels = labels.long()
        return x01, (labels if self.conditional else None)

    @torch.no_grad()
    def log_weights(self, x01: torch.Tensor, labels: torch.Tensor | None, k: int,
                    generator: torch.Generator | None = None, chunk: int = 4096) -> torch.Tensor:
        """k x N importance weights log p(x, z_j) - log q(z_j | x), z_j ~ q(z | x)."""
        mu, logvar = self.encode(x01, labels)
        std = (0.5 * logvar).exp()
        n = x01.shape[0]
        per = max(1, chunk // n)  # samples of z decoded together
        rows = []
        for j in range(0, k, per):
            kk = min(per, k - j)
            eps = torch.randn(kk, *mu.shape, generator=generator, device=mu.device)
            z = mu + eps * std
            y = labels.repeat(kk) if labels is not None else None
            out = self.decode(z.flatten(0, 1), y)
            ll = self.log_likelihood(out, x01.repeat(kk, 1, 1, 1)).view(kk, n)
            log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
            log_qz = -0.5 * (eps.pow(2) + LOG_2PI + logvar).sum(-1)
            rows.append(ll + log_pz - log_qz)
        return torch.cat(rows)

    @torch.no_grad()
    def evaluate(self, data: Any, n: int | None = None, seed: int = 0, k: int = 100,
                 batch_size: int | None = None) -> dict[str, float]:
        """Held-out metrics in nats per image (see the module docstring).

        - ``elbo``: E_q[log p(x|z)] - KL(q(z|x) || p(z)), one z per image;
          ``rec_nll`` and ``kl`` are its two terms;
        - ``nll_iwae``: -log (1/k) sum_j p(x, z_j) / q(z_j|x), k samples, a
          tighter bound than -elbo (``bits_per_dim`` is the same in bits/pixel);
        - ``recon_mse``: mean squared error per pixel of the decoded posterior
          mean, ``recon_bce`` (Bernoulli likelihood only) its binary
          cross-entropy summed over pixels;
        - ``active_units``: latent dimensions with Var_x(E_q[z_i|x]) > 0.01.

        The Bernoulli likelihood is a proper one on binarised data: with
        ``binarize`` the test images are binarised once with `seed`.
        For the CVAE every quantity is conditional on the true label.
        """
        if k < 1:
            raise GenlabError(f"the importance-weighted bound needs k >= 1 samples (got {k})")
        x_all, y_all = self.eval_tensors(data, n, seed)
        gen = torch.Generator(device=self.device).manual_seed(int(seed) + 1)
        with evaluating(self):
            bs = batch_size or max(1, min(500, 20000 // k))
            bernoulli = self.config.likelihood == "bernoulli"
            totals = {"elbo": 0.0, "rec_nll": 0.0, "kl": 0.0, "nll_iwae": 0.0, "recon_mse": 0.0}
            if bernoulli:
                totals["recon_bce"] = 0.0
            mus = []
            for i in range(0, x_all.shape[0], bs):
                x = x_all[i:i + bs].to(self.device)
                y = y_all[i:i + bs].to(self.device) if y_all is not None else None
                mu, logvar = self.encode(x, y)
                mus.append(mu.double().cpu())
                z = mu + torch.randn(mu.shape, generator=gen, device=mu.device) * (0.5 * logvar).exp()
                ll = self.log_likelihood(self.decode(z, y), x)
                kl = self.kl(mu, logvar)
                out_mean = self.decode(mu, y)
                rec = self.mean_image(out_mean).float()
                log_w = self.log_weights(x, y, k, gen)
                log_px = torch.logsumexp(log_w.double(), 0) - math.log(k)
                totals["elbo"] += float((ll - kl).double().sum())
                totals["rec_nll"] += float(-ll.double().sum())
                totals["kl"] += float(kl.double().sum())
                totals["nll_iwae"] += float(-log_px.sum())
                totals["recon_mse"] += float((rec - x).pow(2).flatten(1).mean(1).double().sum())
                if bernoulli:
                    bce = F.binary_cross_entropy_with_logits(out_mean, x, reduction="none")
                    totals["recon_bce"] += float(bce.flatten(1).sum(1).double().sum())
        count = x_all.shape[0]
        out = {key: value / count for key, value in totals.items()}
        mu_all = torch.cat(mus)
        variance = mu_all.var(0, unbiased=True) if count > 1 else torch.zeros(mu_all.shape[1])
        out["bits_per_dim"] = out["nll_iwae"] / (math.log(2) * x_all[0].numel())
        out["active_units"] = float((variance > ACTIVE_THRESHOLD).sum())
        out["latent_dim"] = float(self.config.latent_dim)
        out["iwae_k"] = float(k)
        out["n_images"] = float(count)
        return out

    @torch.no_grad()
    def kl_per_dim(self, x01: torch.Tensor, labels: torch.Tensor | None = None, batch_size: int = 500) -> torch.Tensor:
        """Average KL(q(z_i|x) || N(0, 1)) of each latent dimension over `x01`."""
        with evaluating(self):
            total = torch.zeros(self.config.latent_dim, dtype=torch.float64)
            for i in range(0, x01.shape[0], batch_size):
                y = labels[i:i + batch_size].to(self.device) if labels is not None else None
                mu, logvar = self.encode(x01[i:i + batch_size].to(self.device), y)
                total += (0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).double().sum(0).cpu()
        return total / max(1, x01.shape[0])

    @torch.no_grad()
    def sampler_codes(self, data: Any, limit: int | None, seed: int):
        """The posterior means of up to `limit` training images (binarised as the model trains), for the mixture."""
        x01, labels = self.eval_tensors(data, limit, seed)
        fitted_on = {"dataset": self.data_info.get("dataset"), "images": int(x01.shape[0]),
                     "binarized": bool(self.config.binarize)}
        return self.posterior_mean(x01, labels), labels, fitted_on

    @torch.no_grad()
    def posterior_mean(self, x01: torch.Tensor, labels: torch.Tensor | None = None,
                       batch_size: int = 500) -> torch.Tensor:
        """E_q[z|x] of [0, 1] images, in batches, on the CPU."""
        with evaluating(self):
            out = []
            for i in range(0, x01.shape[0], batch_size):
                y = labels[i:i + batch_size].to(self.device) if labels is not None else None
                out.append(self.encode(x01[i:i + batch_size].to(self.device), y)[0].float().cpu())
        return torch.cat(out)

    @torch.no_grad()
    def decode_images(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                      batch_size: int = 500) -> torch.Tensor:
        """Mean images in [0, 1] decoded from latent codes (labels: class ids or
        rows of class probabilities for the CVAE)."""
        with evaluating(self):
            out = []
            for i in range(0, z.shape[0], batch_size):
                y = labels[i:i + batch_size].to(self.device) if labels is not None else None
                out.append(self.mean_image(self.decode(z[i:i + batch_size].to(self.device), y)).float().cpu())
        return torch.cat(out)


def pair_rows(originals: torch.Tensor, reconstructions: torch.Tensor, ncol: int) -> torch.Tensor:
    """Interleave rows of `ncol` originals with the rows of their reconstructions."""
    parts = []
    for i in range(0, originals.shape[0], ncol):
        a, b = originals[i:i + ncol], reconstructions[i:i + ncol]
        pad = ncol - a.shape[0]
        if pad:
            blank = torch.ones(pad, *a.shape[1:], dtype=a.dtype)
            a, b = torch.cat([a, blank]), torch.cat([b, blank])
        parts += [a, b]
    return torch.cat(parts)
