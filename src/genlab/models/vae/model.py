"""VAE: encoder q(z|x), decoder p(x|z), and the (beta-weighted) ELBO.

Pixels enter as [0, 1] values. The Bernoulli likelihood treats them as
probabilities (binary cross-entropy; exact for binarised data), the Gaussian
one as means with a fixed or learned shared standard deviation.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...nn import MLP
from ...nn.conv import DownStack, UpStack
from ...registry import FAMILIES
from ..adversarial import adam
from ..base import GenerativeModel
from .config import VAEConfig

LOG_2PI = math.log(2 * math.pi)


class Encoder(nn.Module):
    """x -> (mu, logvar); `extra` inputs (e.g. a one-hot label) are concatenated."""

    def __init__(self, shape, config: VAEConfig, extra: int = 0):
        super().__init__()
        c, h, w = shape
        if config.architecture == "conv":
            self.features = nn.Sequential(DownStack(c + (extra > 0) * extra, h, config.width, norm="batch"),
                                          nn.Flatten())
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
        if config.architecture == "conv":
            self.net = UpStack(config.latent_dim + extra, c, h, config.width, norm="batch", project="linear")
        else:
            self.net = nn.Sequential(MLP([config.latent_dim + extra, config.hidden, config.hidden, c * h * w]),
                                     nn.Unflatten(1, tuple(shape)))

    def forward(self, z: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        if extra is not None:
            z = torch.cat([z, extra], 1)
        return self.net(z)


@FAMILIES.register("vae")
class VAE(GenerativeModel):
    family = "vae"
    Config = VAEConfig

    def __init__(self, config: VAEConfig, data_info: dict[str, Any]):
        super().__init__(config, data_info)
        extra = self.condition_size()
        self.encoder = Encoder(self.image_shape, config, extra)
        self.decoder = Decoder(self.image_shape, config, extra)
        if config.likelihood == "gaussian" and config.sigma is None:
            self.log_sigma = nn.Parameter(torch.zeros(()))

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
        return torch.sigmoid(out) if self.config.likelihood == "bernoulli" else out.clamp(0, 1)

    def log_likelihood(self, out: torch.Tensor, x01: torch.Tensor) -> torch.Tensor:
        """log p(x|z) per item, summed over pixels, in nats."""
        if self.config.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(out, x01, reduction="none").flatten(1).sum(1)
        log_sigma = self.log_sigma if self.config.sigma is None else torch.tensor(math.log(self.config.sigma))
        var = torch.exp(2 * log_sigma)
        return -0.5 * (((x01 - out) ** 2) / var + 2 * log_sigma + LOG_2PI).flatten(1).sum(1)

    @staticmethod
    def kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) || N(0, I)) per item."""
        return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        return (x + 1) / 2

    def forward_elbo(self, x01: torch.Tensor, labels: torch.Tensor | None = None):
        mu, logvar = self.encode(x01, labels)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        out = self.decode(z, labels)
        return self.log_likelihood(out, x01), self.kl(mu, logvar), out

    # -- training ---------------------------------------------------------------------
    def configure_optimizers(self):
        return {"vae": adam(self.parameters(), self.config.lr, (0.9, 0.999))}

    def beta_at(self, step: int) -> float:
        c = self.config
        return c.beta * (min(1.0, step / c.warmup_steps) if c.warmup_steps else 1.0)

    def train_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        c = self.config
        x01 = self.to_unit(batch["x"])
        if c.binarize:
            x01 = torch.bernoulli(x01)
        labels = batch.get("y") if self.conditional else None
        ll, kl, _ = self.forward_elbo(x01, labels)
        rec, kl_mean = -ll.mean(), kl.mean()
        if c.capacity > 0:
            cap = c.capacity * min(1.0, step / c.capacity_steps)
            loss = rec + c.capacity_gamma * (kl_mean - cap).abs()
        else:
            loss = rec + self.beta_at(step) * kl_mean
        opt = self.optimizers["vae"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.detach(), "rec": rec.detach(), "kl": kl_mean.detach(),
                "elbo": (-(rec + kl_mean)).detach()}

    # -- sampling -----------------------------------------------------------------------
    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.randn(n, self.config.latent_dim, generator=generator)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int | None = None, labels: Any = None,
               batch_size: int = 500, z: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        was_training = self.training
        self.eval()
        gen = self.make_generator(seed)
        labels = self.check_labels(labels, n, gen)
        if z is None:
            z = self.latent(n, gen)
        z = z.to(self.device)
        chunks = []
        for i in range(0, n, batch_size):
            y = labels[i:i + batch_size] if labels is not None else None
            chunks.append(self.mean_image(self.decode(z[i:i + batch_size], y)).float().cpu())
        self.train(was_training)
        out = {"images": torch.cat(chunks)}
        if labels is not None:
            out["labels"] = labels.cpu()
        return out

    @torch.no_grad()
    def reconstruct(self, x01: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decoded posterior means of [0, 1] images."""
        was_training = self.training
        self.eval()
        mu, _ = self.encode(x01.to(self.device), labels)
        out = self.mean_image(self.decode(mu, labels)).cpu()
        self.train(was_training)
        return out

    @torch.no_grad()
    def preview(self, n: int, batch: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        out = super().preview(n, batch)
        if batch is not None:
            k = min(n // 2, batch["x"].shape[0])
            x01 = self.to_unit(batch["x"][:k])
            labels = batch["y"][:k] if self.conditional and "y" in batch else None
            rec = self.reconstruct(x01, labels)
            # rows alternate: originals, then their reconstructions
            nrow = max(1, int(k ** 0.5))
            pairs = [t for i in range(0, k, nrow) for t in (x01[i:i + nrow].cpu(), rec[i:i + nrow])]
            out["reconstructions"] = torch.cat(pairs)
        return out
