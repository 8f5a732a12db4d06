"""RGAN networks: an LSTM generator fed noise at every step, a bidirectional LSTM critic.

The generator reads a fresh noise vector at each of the T steps (and, with
``feedback``, its own previous output, as in C-RNN-GAN), next to a noise
vector drawn once per sequence (``seq_latent_dim``; it lets the generator
pick a sequence-wide level, e.g. a price range, without integrating noise;
with ``init_state`` it also sets the LSTM's initial state, so that the level
holds from the first step),
and maps each LSTM output through a linear layer and a sigmoid to the
[0, 1]-scaled features; one-hot groups of the data (music's pitch class) are
straight-through one-hots of a softmax instead (`genlab.nn.onehot`), drawn
from it with noise that is part of the latent (``one_hot=sample``) or its
most likely category (``argmax``).
The discriminator reads the sequence in both directions and scores it by the
mean of its per-step scores (``d_score=steps``) or from its final states
(``pooled``). With labelled data (and ``conditional``), a class embedding is
concatenated to the inputs of both networks at every step.

Training is the shared GAN step of `AdversarialModel` with any objective in
`genlab.losses` (``loss``; ``spectral_norm`` normalises D's head, and with
``spectral_norm_rnn`` its LSTM weights too). Three optional terms join the
generator's loss, each with its weight (1 by default, 0 turns it off; chosen by
benchmarks/sequence_quality.py): ``feature_matching`` on D's hidden states, TimeGAN's
``supervised`` next-step loss in a learned embedding space (embedding.py; its
networks train on the real batch first in each step) and TimeGAN's
``moment_matching``; a fourth, ``increment_matching`` (off by default), applies
the moment loss to the step-to-step changes; `sample` returns ``{"sequences": N x T x D}`` in
the data's original units (``scaled=True`` gives the [0, 1] values).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ...data.sequences import inverse_transform
from ...losses import feature_matching, increment_moment_loss, moment_loss
from ...nn.onehot import activate, one_hot_groups
from ...nn.optim import adam
from ...registry import FAMILIES
from ...seqmetrics import evaluate_sequences
from ...viz import render_series
from ..adversarial import AdversarialModel
from .config import RGANConfig
from .embedding import SequenceEmbedding


class SequenceGenerator(nn.Module):
    def __init__(self, latent: int, hidden: int, layers: int, out_dim: int, num_classes: int, label_dim: int,
                 feedback: bool, groups: list[tuple[int, int]] | None = None, draw: bool = False,
                 init_from: int = 0):
        super().__init__()
        self.groups = list(groups or [])
        #: one-hot groups drawn with noise: the last len(groups) latent values per step, as N(0, 1)
        self.draws = len(self.groups) if draw else 0
        self.embed = nn.Embedding(num_classes, label_dim) if num_classes else None
        self.feedback = feedback
        in_dim = latent + (label_dim if num_classes else 0) + (out_dim if feedback else 0)
        self.rnn = nn.LSTM(in_dim, hidden, layers, batch_first=True)
        self.out = nn.Linear(hidden, out_dim)
        self.out_dim = out_dim
        # the last `init_from` noise values (the per-sequence ones) also set the initial LSTM state
        self.init_from = init_from
        self.init_state = nn.Linear(init_from, 2 * layers * hidden) if init_from else None

    def initial_state(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        if self.init_state is None:
            return None
        layers, hidden = self.rnn.num_layers, self.rnn.hidden_size
        hc = torch.tanh(self.init_state(z[:, 0, -self.init_from:])).reshape(z.shape[0], 2, layers, hidden)
        return hc[:, 0].transpose(0, 1).contiguous(), hc[:, 1].transpose(0, 1).contiguous()

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        u = None
        if self.draws:  # Gaussian noise -> uniform (normal CDF) for drawing the categories
            z, eps = z[..., :-self.draws], z[..., -self.draws:]
            u = 0.5 * (1 + torch.erf(eps / math.sqrt(2)))
        inp = z
        if self.embed is not None and labels is not None:
            inp = torch.cat([z, self.embed(labels)[:, None, :].expand(-1, z.shape[1], -1)], -1)
        state = self.initial_state(z)
        if not self.feedback:
            h, _ = self.rnn(inp, state)
            return activate(self.out(h), self.groups, u)
        prev = inp.new_zeros(inp.shape[0], 1, self.out_dim)
        outs = []
        for t in range(inp.shape[1]):
            h, state = self.rnn(torch.cat([inp[:, t:t + 1], prev], -1), state)
            prev = activate(self.out(h), self.groups, None if u is None else u[:, t:t + 1])
            outs.append(prev)
        return torch.cat(outs, 1)


class SequenceDiscriminator(nn.Module):
    def __init__(self, in_dim: int, hidden: int, layers: int, num_classes: int, label_dim: int,
                 score: str, spectral_norm: bool, spectral_norm_rnn: bool = False):
        super().__init__()
        self.embed = nn.Embedding(num_classes, label_dim) if num_classes else None
        self.rnn = nn.LSTM(in_dim + (label_dim if num_classes else 0), hidden, layers, batch_first=True,
                           bidirectional=True)
        if spectral_norm and spectral_norm_rnn:
            for name in [n for n, _ in self.rnn.named_parameters() if n.startswith("weight_")]:
                nn.utils.parametrizations.spectral_norm(self.rnn, name=name)
        head = nn.Linear(2 * hidden, 1)
        self.head = nn.utils.parametrizations.spectral_norm(head) if spectral_norm else head
        self.score = score
        #: hidden states (B x T x 2H) of the latest call, for feature matching
        self.last_features: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None and labels is not None:
            x = torch.cat([x, self.embed(labels)[:, None, :].expand(-1, x.shape[1], -1)], -1)
        h, (hn, _) = self.rnn(x)
        self.last_features = h
        if self.score == "steps":
            return self.head(h).mean((1, 2))
        return self.head(torch.cat([hn[-2], hn[-1]], -1)).reshape(-1)


@FAMILIES.register("rgan")
class RGAN(AdversarialModel):
    Config = RGANConfig
    data_kinds = ("sequence",)
    config_version = 2

    @classmethod
    def migrate(cls, config: dict[str, Any], version: int) -> dict[str, Any]:
        """Version 1 had the three generator terms off by default: a run that did not name them keeps them off."""
        config = dict(config)
        if version < 2:
            for key in ("feature_matching", "supervised", "moment_matching"):
                config.setdefault(key, 0.0)
        return config

    def __init__(self, config: RGANConfig, data_info: dict[str, Any]):
        super().__init__(config, data_info)
        # conditional only when asked for and the data has labels
        self.conditional = bool(config.conditional and data_info.get("num_classes"))
        k = self.num_classes if self.conditional else 0
        self.seq_len, self.dim = int(data_info["seq_len"]), int(data_info["dim"])
        groups = one_hot_groups(data_info)
        self.draws = len(groups) if config.one_hot == "sample" else 0
        self.generator = SequenceGenerator(config.latent_dim + config.seq_latent_dim, config.hidden, config.layers, self.dim, k,
                                           config.label_dim, config.feedback, groups, draw=bool(self.draws),
                                           init_from=config.seq_latent_dim if config.init_state else 0)
        self.discriminator = SequenceDiscriminator(self.dim, config.d_hidden, config.d_layers, k, config.label_dim,
                                                   config.d_score, config.spectral_norm, config.spectral_norm_rnn)
        self.embedding = SequenceEmbedding(self.dim, config.embed_hidden) if config.supervised > 0 else None
        self._real: tuple[torch.Tensor, torch.Tensor | None] | None = None
        self.init_ema()

    # -- training: the shared GAN step, with the embedding's step first and G's extra terms
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        opts = super().configure_optimizers()
        if self.embedding is not None:
            opts["emb"] = adam(self.embedding.parameters(), self.config.lr_g, (0.9, 0.999))
        return opts

    def train_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        logs: dict[str, torch.Tensor] = {}
        if self.embedding is not None:
            parts = self.embedding.fit_losses(batch["x"])
            self.optimize(parts["emb_rec"] + parts["emb_sup"], self.optimizers["emb"])
            logs.update({k: v.detach() for k, v in parts.items()})
        # the real batch, for the generator's terms computed in extra_generator_loss
        self._real = (batch["x"], batch.get("y") if self.conditional else None)
        try:
            logs.update(super().train_step(batch, step))
        finally:
            self._real = None
        return logs

    def extra_generator_loss(self, z: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None,
                             logs: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """Feature matching, supervised next-step, moment and increment-moment terms (those with a weight above 0)."""
        c = self.config
        if self._real is None:
            return None
        real, real_labels = self._real
        total = None
        if c.feature_matching > 0:
            # the shared step scored `fake` just before calling this: D's states of that call
            fake_h = self.discriminator.last_features
            with torch.no_grad():
                self.discriminate(real, real_labels)
                real_h = self.discriminator.last_features
            fm = feature_matching(real_h, fake_h)
            logs["fm"] = fm.detach()
            total = c.feature_matching * fm
        if self.embedding is not None:
            sup = self.embedding.supervised_loss(fake)
            logs["g_sup"] = sup.detach()
            total = c.supervised * sup if total is None else total + c.supervised * sup
        if c.moment_matching > 0:
            mom = moment_loss(real, fake)
            logs["moments"] = mom.detach()
            total = c.moment_matching * mom if total is None else total + c.moment_matching * mom
        if c.increment_matching > 0 and real.shape[1] > 1:
            inc = increment_moment_loss(real, fake)
            logs["increments"] = inc.detach()
            total = c.increment_matching * inc if total is None else total + c.increment_matching * inc
        return total

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """N x T x (latent_dim + seq_latent_dim [+ groups]): fresh noise per step, then noise shared by all
        steps, then (music) the noise that draws each one-hot group's category at each step."""
        z = self.randn(n, self.seq_len, self.config.latent_dim, generator=generator)
        if self.config.seq_latent_dim:
            shared = self.randn(n, 1, self.config.seq_latent_dim, generator=generator)
            z = torch.cat([z, shared.expand(-1, self.seq_len, -1)], -1)
        if self.draws:
            z = torch.cat([z, self.randn(n, self.seq_len, self.draws, generator=generator)], -1)
        return z

    @torch.no_grad()
    def sample(self, n: int, *, seed: int | None = None, labels: Any = None, batch_size: int = 500,
               z: torch.Tensor | None = None, scaled: bool = False) -> dict[str, torch.Tensor]:
        x, labels = self.generate_all(n, seed=seed, labels=labels, batch_size=batch_size, z=z)
        out = {"sequences": x if scaled else inverse_transform(x, self.data_info)}
        if labels is not None:
            out["labels"] = labels
        return out

    @torch.no_grad()
    def preview(self, n: int, batch: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        k = min(4, n)
        fake = self.sample(k, seed=0)["sequences"]
        real = inverse_transform(batch["x"][:k], self.data_info) if batch is not None else None
        return {"series": render_series(real, fake, self.data_info.get("columns"), n=k)}

    def evaluate(self, data: Any, n: int | None = None, seed: int = 0, **steps: int) -> dict[str, float]:
        """TimeGAN's discriminative and predictive scores of `n` samples against `data`."""
        return evaluate_sequences(self, data, n, seed, **steps)
