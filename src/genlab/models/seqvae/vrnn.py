"""A latent per time step: the variational recurrent network (VRNN) of Chung et al. 2015.

At each step t, with the recurrent state h_{t-1} summarising x_{<t} and z_{<t}:

- prior        p(z_t | h_{t-1})        = N(mu_p, sigma_p^2)   (learned, not N(0, I))
- posterior    q(z_t | x_t, h_{t-1})   = N(mu_q, sigma_q^2)
- decoder      p(x_t | z_t, h_{t-1})   (its mean's logit; the family owns the likelihood)
- recurrence   h_t = GRU([phi_x(x_t), phi_z(z_t)], h_{t-1})

With ``global_latent`` G > 0 a code per sequence joins them (as the static
code of Li & Mandt's disentangled sequential autoencoder, 2018): a GRU reads the
whole window into q(s | x) = N(mu_s, sigma_s^2) with prior N(0, I); s sets the
initial state h_0 and enters the recurrence at every step. It carries what
holds for the whole window (a sine's frequency, a price level), which per-step
codes drawn from a prior that has seen only the window's start cannot fix,
and leaves the per-step codes the step-to-step noise.

The ELBO sums the per-step reconstruction terms and the per-step KL(q || p)
(`gaussian_kl`), plus KL(q(s | x) || N(0, I)). Sampling draws z_t from the prior and feeds the decoder's
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
    def __init__(self, dim: int, hidden: int, latent: int, global_latent: int = 0):
        super().__init__()
        self.hidden, self.latent, self.global_latent = hidden, latent, global_latent
        self.phi_x = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU())
        self.phi_z = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU())
        self.prior = _mlp(hidden, hidden, 2 * latent)
        self.posterior = _mlp(2 * hidden, hidden, 2 * latent)
        self.decoder = _mlp(2 * hidden, hidden, dim)
        self.cell = nn.GRUCell(2 * hidden + global_latent, hidden)
        if global_latent:
            self.global_encoder = nn.GRU(dim, hidden, batch_first=True)
            self.to_global = nn.Linear(hidden, 2 * global_latent)
            self.from_global = nn.Linear(global_latent, hidden)

    def initial_state(self, s: torch.Tensor | None, batch: int, like: torch.Tensor) -> torch.Tensor:
        """h_0: zeros, or set by the sequence's code s."""
        return like.new_zeros(batch, self.hidden) if s is None else torch.tanh(self.from_global(s))

    def step_input(self, fx: torch.Tensor, fz: torch.Tensor, s: torch.Tensor | None) -> torch.Tensor:
        return torch.cat([fx, fz] if s is None else [fx, fz, s], -1)

    @staticmethod
    def _split(stats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = stats.chunk(2, -1)
        return mu, logvar.clamp(-12, 8)

    def forward(self, x: torch.Tensor, sample: bool = True) -> dict[str, torch.Tensor]:
        """Teacher-forced pass over x (B x T x D): decoder logits B x T x D, KL per item (summed over
        steps) and the posterior statistics B x T x latent; `sample` False uses the posterior means."""
        s, kl_s, stats = None, None, {}
        if self.global_latent:
            mu_s, logvar_s = self._split(self.to_global(self.global_encoder(x)[1][-1]))
            s = mu_s + torch.randn_like(mu_s) * (0.5 * logvar_s).exp() if sample else mu_s
            kl_s = gaussian_kl(mu_s, logvar_s, torch.zeros_like(mu_s), torch.zeros_like(logvar_s))
            stats = {"global_mu": mu_s, "global_logvar": logvar_s}
        h = self.initial_state(s, x.shape[0], x)
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
            h = self.cell(self.step_input(fx[:, t], fz, s), h)
        kl = torch.stack(kls, 1).sum(1)
        return {"logits": torch.stack(logits, 1), "kl": kl if kl_s is None else kl + kl_s,
                "mu": torch.stack(mus, 1), "logvar": torch.stack(logvars, 1), **stats}

    def generate(self, eps: torch.Tensor) -> torch.Tensor:
        """Sequences in [0, 1] (B x T x D) from standard normal noise `eps` (B x T x (latent + global_latent))
        through the prior: the per-step codes from the first `latent` channels, the sequence's code s (its prior
        is N(0, I)) from the last `global_latent` channels of step 0."""
        s = eps[:, 0, self.latent:] if self.global_latent else None
        h = self.initial_state(s, eps.shape[0], eps)
        outs = []
        for t in range(eps.shape[1]):
            mu_p, logvar_p = self._split(self.prior(h))
            fz = self.phi_z(mu_p + eps[:, t, :self.latent] * (0.5 * logvar_p).exp())
            x = torch.sigmoid(self.decoder(torch.cat([fz, h], -1)))
            outs.append(x)
            h = self.cell(self.step_input(self.phi_x(x), fz, s), h)
        return torch.stack(outs, 1)
