"""TimeGAN's learned embedding space for the recurrent GAN's supervised next-step loss.

Three small GRU networks (Yoon et al. 2019, kept compact):

- the *embedder* maps a real sequence x (B x T x D, in [0, 1]) to states
  h = E(x) in (0, 1)^H, step by step;
- the *recovery* maps states back to the data, R(h) ~ x, so that E cannot
  collapse (an autoencoder on real windows);
- the *supervisor* reads h up to step t and predicts h at step t + 1.

`fit_step` trains them on a real batch (reconstruction MSE for E and R; the
next-step loss for S on E's detached states). The generator then receives
`supervised_loss(fake)`: E and S, frozen, embed its sequence and the
supervisor's one-step predictions must match the embedding's actual next
step, i.e. the generated sequence must move through the embedding space the
way real sequences do. Unlike TimeGAN, the generator still writes data
directly (the C-RNN-GAN core) and the discriminator reads data.
"""

from __future__ import annotations

import torch
from torch import nn

from ...losses import next_step_loss
from ...modes import frozen


class _StepNet(nn.Module):
    """A GRU and a per-step linear layer with a sigmoid."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int):
        super().__init__()
        self.rnn = nn.GRU(in_dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.out(self.rnn(x)[0]))


class SequenceEmbedding(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.embedder = _StepNet(dim, hidden, hidden)
        self.recovery = _StepNet(hidden, hidden, dim)
        self.supervisor = _StepNet(hidden, hidden, hidden)

    def fit_losses(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """Reconstruction (trains E, R) and next-step (trains S only) losses on real sequences."""
        h = self.embedder(real)
        rec = (self.recovery(h) - real).pow(2).mean()
        h_fixed = h.detach()
        sup = next_step_loss(h_fixed, self.supervisor(h_fixed))
        return {"emb_rec": rec, "emb_sup": sup}

    def supervised_loss(self, x: torch.Tensor) -> torch.Tensor:
        """Next-step loss of the (frozen) supervisor on the embedding of `x`; gradients reach `x` only."""
        with frozen(self):
            h = self.embedder(x)
            return next_step_loss(h, self.supervisor(h))
