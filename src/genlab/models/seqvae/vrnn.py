"""A latent per time step: the variational recurrent network (VRNN) of Chung et al. 2015.

At each step t, with the recurrent state h_{t-1} summarising x_{<t} and z_{<t}:

- prior        p(z_t | h_{t-1})        = N(mu_p, sigma_p^2)   (learned, not N(0, I))
- posterior    q(z_t | x_t, h_{t-1})   = N(mu_q, sigma_q^2)
- decoder      p(x_t | z_t, h_{t-1})   (its mean's logit; the family owns the likelihood)
- recurrence   h_t = GRU([phi_x(x_t), phi_z(z_t)], h_{t-1})

The ELBO sums the per-step reconstruction terms and the per-step KL(q || p)
(`gaussian_kl`). Sampling draws z_t from the prior and feeds the decoder's
mean back as x_t, so the randomness of every step (day-to-day jitter) comes
from its own latent rather than from one code for the whole sequence.
"""

from __future__ import annotations

import torch
from torch import nn


def gaussian_kl(mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor, logvar_p: torch.Tensor) -> torch.Tensor:
    """KL(N(mu_q, e^logvar_q) || N(mu_p, e^logvar_p)) summed over the last axis."""
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).pow(2)) / logvar_p.exp() - 1).sum(-1)


def _mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))


class VRNN(nn.Module):
    def __init__(self, dim: int, hidden: int, latent: int):
        super().__init__()
        self.hidden, self.latent = hidden, latent
        self.phi_x = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU())
        self.phi_z = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU())
        self.prior = _mlp(hidden, hidden, 2 * latent)
        self.posterior = _mlp(2 * hidden, hidden, 2 * latent)
        self.decoder = _mlp(2 * hidden, hidden, dim)
        self.cell = nn.GRUCell(2 * hidden, hidden)

    @staticmethod
    def _split(stats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = stats.chunk(2, -1)
        return mu, logvar.clamp(-12, 8)

    def forward(self, x: torch.Tensor, sample: bool = True) -> dict[str, torch.Tensor]:
        """Teacher-forced pass over x (B x T x D): decoder logits B x T x D, KL per item (summed over
        steps) and the posterior statistics B x T x latent; `sample` False uses the posterior means."""
        h = x.new_zeros(x.shape[0], self.hidden)
        logits, kls, mus, logvars = [], [], [], []
        fx = self.phi_x(x)
        for t in range(x.shape[1]):
            mu_p, logvar_p = self._split(self.prior(h))
            mu_q, logvar_q = self._split(self.posterior(torch.cat([fx[:, t], h], -1)))
            z = mu_q + torch.randn_like(mu_q) * (0.5 * logvar_q).exp() if sample else mu_q
            fz = self.phi_z(z)
            logits.append(self.decoder(torch.cat([fz, h], -1)))
            kls.append(gaussian_kl(mu_q, logvar_q, mu_p, logvar_p))
            mus.append(mu_q)
            logvars.append(logvar_q)
            h = self.cell(torch.cat([fx[:, t], fz], -1), h)
        return {"logits": torch.stack(logits, 1), "kl": torch.stack(kls, 1).sum(1),
                "mu": torch.stack(mus, 1), "logvar": torch.stack(logvars, 1)}

    def generate(self, eps: torch.Tensor) -> torch.Tensor:
        """Sequences in [0, 1] (B x T x D) from standard normal noise `eps` (B x T x latent) through the prior."""
        h = eps.new_zeros(eps.shape[0], self.hidden)
        outs = []
        for t in range(eps.shape[1]):
            mu_p, logvar_p = self._split(self.prior(h))
            fz = self.phi_z(mu_p + eps[:, t] * (0.5 * logvar_p).exp())
            x = torch.sigmoid(self.decoder(torch.cat([fz, h], -1)))
            outs.append(x)
            h = self.cell(torch.cat([self.phi_x(x), fz], -1), h)
        return torch.stack(outs, 1)
