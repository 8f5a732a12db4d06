"""InfoGAN networks and the mutual-information loss.

The generator's input is [z, c]: noise z, one-hot categorical codes and
continuous codes drawn uniformly from [-1, 1]. `latent()` returns the whole
vector, so interpolation and `sample(z=...)` see the codes too;
`latent_codes()` names the code slices (c1, c2, ...) for traversals.

D and the Q head share a convolutional trunk (`DownStack`). Q predicts the
codes of generated images: logits for each categorical code, and a mean (and,
for the Gaussian loss, a log-variance) for each continuous one. The
mutual-information loss L_I (cross-entropy + Gaussian NLL or squared error),
weighted by `info_weight`, is added to the generator's loss (the Q head is
trained with the generator's optimizer) and, on the discriminator's fakes, to
the discriminator's loss, so the shared trunk learns features that carry the
codes. The generator-phase value is logged as ``mi``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...latent import traversal_latents
from ...nn.conv import ConvDiscriminator, UpStack, init_dcgan
from ...registry import FAMILIES
from ..adversarial import AdversarialModel
from .config import InfoGANConfig

LOG_2PI = math.log(2 * math.pi)


Trunk = ConvDiscriminator  # D's shared convolutional trunk and its real/fake head


class QHead(nn.Module):
    """Trunk features -> code predictions."""

    def __init__(self, in_channels: int, base: int, hidden: int, out_features: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(in_channels, hidden, base, 1, 0, bias=False), nn.Flatten(),
                                 nn.BatchNorm1d(hidden), nn.LeakyReLU(0.2, inplace=True),
                                 nn.Linear(hidden, out_features))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


@FAMILIES.register("infogan")
class InfoGAN(AdversarialModel):
    Config = InfoGANConfig

    def __init__(self, config: InfoGANConfig, data_info: dict[str, Any]):
        super().__init__(config, data_info)
        c, h, _ = self.image_shape
        self.code_dim = sum(config.categorical) + config.continuous
        #: (fake batch, D's trunk features) of the last `discriminate` call while training
        self._trunk_cache: tuple[torch.Tensor, torch.Tensor] | None = None
        self.generator = nn.Sequential(UpStack(config.latent_dim + self.code_dim, c, h, config.g_width, norm="batch"),
                                       nn.Tanh())
        self.discriminator = Trunk(c, h, config.d_width, config.spectral_norm)
        per_cont = 2 if config.continuous_loss == "gaussian" else 1
        self.q_head = QHead(self.discriminator.features.out_channels, self.discriminator.features.base,
                            config.q_hidden, sum(config.categorical) + per_cont * config.continuous)
        init_dcgan(self)
        self.init_ema()

    # -- codes ----------------------------------------------------------------------------
    def latent_codes(self) -> list[dict[str, Any]]:
        """Named code slices of the latent vector: name, kind, start, size."""
        codes, start = [], self.config.latent_dim
        for k in self.config.categorical:
            codes.append({"name": f"c{len(codes) + 1}", "kind": "categorical", "start": start, "size": k})
            start += k
        for _ in range(self.config.continuous):
            codes.append({"name": f"c{len(codes) + 1}", "kind": "continuous", "start": start, "size": 1})
            start += 1
        return codes

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        c = self.config
        parts = [self.randn(n, c.latent_dim, generator=generator)]
        for k in c.categorical:
            idx = torch.randint(0, k, (n,), generator=generator, device=self.device)
            parts.append(F.one_hot(idx, k).float())
        if c.continuous:
            parts.append(torch.rand(n, c.continuous, generator=generator, device=self.device) * 2 - 1)
        return torch.cat(parts, 1)

    def discriminate(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """D's scores; the trunk features are kept for `predict_codes` on the same batch, so a
        training step runs the trunk once per batch of fakes rather than once for D and once for Q."""
        h = self.discriminator.features(x)
        self._trunk_cache = (x, h) if self.training else None
        return self.discriminator.head(h).reshape(-1)

    def predict_codes(self, x: torch.Tensor) -> torch.Tensor:
        """Q's raw outputs for images in [-1, 1]."""
        cache, self._trunk_cache = self._trunk_cache, None
        h = cache[1] if cache is not None and cache[0] is x else self.discriminator.features(x)
        return self.q_head(h)

    def info_loss(self, z: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        """L_I: cross-entropy on categorical codes plus Gaussian NLL / squared error on continuous ones."""
        c = self.config
        start, qpos = c.latent_dim, 0
        loss = z.new_zeros(())
        for k in c.categorical:
            target = z[:, start:start + k].argmax(1)
            loss = loss + F.cross_entropy(q[:, qpos:qpos + k], target)
            start, qpos = start + k, qpos + k
        if c.continuous:
            target = z[:, start:start + c.continuous]
            mean = q[:, qpos:qpos + c.continuous]
            if c.continuous_loss == "gaussian":
                logvar = q[:, qpos + c.continuous:qpos + 2 * c.continuous].clamp(-10, 10)
                nll = 0.5 * ((target - mean).pow(2) * torch.exp(-logvar) + logvar + LOG_2PI)
                loss = loss + nll.sum(1).mean()
            else:
                loss = loss + (target - mean).pow(2).sum(1).mean()
        return loss

    # -- training -------------------------------------------------------------------------
    def generator_parameters(self):
        return itertools.chain(self.generator.parameters(), self.q_head.parameters())

    def extra_discriminator_loss(self, z: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None,
                                 logs: dict[str, torch.Tensor]) -> torch.Tensor | None:
        # as in the reference implementation, L_I also trains D's trunk, so the features Q reads
        # are shaped by the codes and not only by the real/fake decision
        return self.config.info_weight * self.info_loss(z, self.predict_codes(fake))

    def extra_generator_loss(self, z: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None,
                             logs: dict[str, torch.Tensor]) -> torch.Tensor | None:
        mi = self.info_loss(z, self.predict_codes(fake))
        logs["mi"] = mi.detach()
        return self.config.info_weight * mi

    # -- sampling -------------------------------------------------------------------------
    @torch.no_grad()
    def preview(self, n: int, batch: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Random samples, and for a categorical c1 a square grid: rows share noise, columns are c1's categories."""
        out = super().preview(n, batch)
        if self.config.categorical and self.config.categorical[0] <= 16:
            k = self.config.categorical[0]
            z, _ = traversal_latents(self, rows=k, code="c1", generator=self.make_generator(0))
            out["c1"] = self.sample(z.shape[0], z=z)["images"]
        return out
