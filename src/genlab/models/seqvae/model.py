"""SeqVAE: recurrent encoder q(z|x), recurrent decoder p(x|z), annealed ELBO.

Following Bowman et al. 2016 ("Generating sentences from a continuous
space"): an LSTM (or GRU) encoder reads the sequence and its final state
gives the Gaussian posterior; z sets the decoder's initial state and is
also fed at every step. The decoder is trained with teacher forcing, and
*word dropout* replaces a share of its inputs (by ``<unk>`` for tokens, by
zeros for series) so that it must rely on z. The KL weight is annealed from
0 to ``beta`` (logistic or linear schedule).

- Token data (``words:PATH``): categorical outputs over the characters;
  `sample` returns ``{"tokens": N x L, "lengths": N}`` (characters, then
  ``<eos>`` and padding) and `decode_text` turns tokens into strings.
- Continuous data (``sines``, ``csv:PATH``): Gaussian outputs with sigmoid
  means in [0, 1] and a learned standard deviation per feature; `sample`
  returns ``{"sequences": N x T x D}`` in original units (the decoder runs
  on its own mean predictions). One-hot groups of the data (music's pitch
  class) are categorical outputs instead, drawn when sampling
  (`genlab.nn.onehot`).
- ``structure=vrnn`` (series without one-hot groups): a latent per time step with a learned
  prior, the VRNN of Chung et al. 2015 (vrnn.py), for data whose dynamics one
  code per sequence cannot carry (the day-to-day moves of stock prices);
  ``global_latent`` adds a code per sequence to it (level, frequency). The
  same Gaussian likelihood, KL annealing (on the summed per-step KL) and
  sampling API; `encode` gives the per-step posterior means, flattened.
- Latent sampler (``sampler``, `models/latent_sampling.py` as for the VAEs):
  the prior N(0, I), or a Gaussian mixture fitted after training on the
  posterior means of the training windows. ``auto`` (the default) takes the
  mixture for continuous series without one-hot groups, where it was measured
  (benchmarks/sequence_quality.py, same weights, mean of 3 seeds: the
  discriminative score fell from 0.240 to 0.030 on sines and from 0.172 to
  0.138 on stocks), and the prior for text, music and the VRNN.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...data.sequences import decode_tokens, inverse_transform
from ...errors import ConfigError, GenlabError
from ...modes import evaluating
from ...nn.onehot import draw, log_likelihood, one_hot_groups
from ...nn.optim import adam
from ...registry import FAMILIES
from ...seqmetrics import evaluate_sequences, evaluate_words
from ...viz import render_series, render_text
from ..base import GenerativeModel
from ..latent_sampling import LatentSampling
from .config import SeqVAEConfig
from .export import export_module
from .vrnn import VRNN


@FAMILIES.register("seqvae")
class SeqVAE(LatentSampling, GenerativeModel):
    Config = SeqVAEConfig
    data_kinds = ("sequence", "tokens")
    #: 2: the latent sampler options (sampler, sampler_components)
    config_version = 2
    #: one mixture for all windows (the latent sampler's per-class mixtures are the cvae's)
    conditional = False

    @classmethod
    def migrate(cls, config: dict[str, Any], version: int) -> dict[str, Any]:
        """Version 1 had no latent sampler: such runs keep sampling from the prior."""
        config = dict(config)
        if version < 2:
            config.setdefault("sampler", "prior")
        return config

    def __init__(self, config: SeqVAEConfig, data_info: dict[str, Any]):
        super().__init__(config, data_info)
        self.tokens = data_info.get("kind") == "tokens"
        cell = nn.LSTM if config.cell == "lstm" else nn.GRU
        if self.tokens:
            vocab = data_info["vocab"]
            self.pad, self.bos, self.eos, self.unk = (int(data_info[k]) for k in ("pad", "bos", "eos", "unk"))
            self.steps = int(data_info["max_len"]) + 1  # characters and <eos>
            self.embed = nn.Embedding(len(vocab), config.embed_dim, padding_idx=self.pad)
            in_dim, out_dim = config.embed_dim, len(vocab)
        else:
            self.steps, in_dim = int(data_info["seq_len"]), int(data_info["dim"])
            out_dim = in_dim
            self.groups = one_hot_groups(data_info)
            self.log_sigma = nn.Parameter(torch.full((in_dim,), math.log(0.1)))
        self.vrnn = None
        if config.sampler == "gmm" and (self.tokens or config.structure == "vrnn"):
            raise ConfigError("--sampler gmm is fitted on one code per continuous series (--structure global); "
                              "use --sampler prior (or auto) for text and for --structure vrnn")
        if config.global_latent and config.structure != "vrnn":
            raise ConfigError("--global-latent adds a code per sequence to --structure vrnn; the global structure "
                              "has one already (drop --global-latent or add --structure vrnn)")
        if config.structure == "vrnn":
            if self.tokens:
                raise ConfigError("--structure vrnn models continuous series; for text use --structure global")
            if self.groups:
                raise ConfigError("--structure vrnn models continuous series, and this data has one-hot features "
                                  "(music's pitch class); use --structure global")
            self.vrnn = VRNN(in_dim, config.hidden, config.latent_dim, config.global_latent)
            return
        self.encoder = cell(in_dim, config.hidden, config.layers, batch_first=True)
        self.to_latent = nn.Linear(config.hidden, 2 * config.latent_dim)
        self.from_latent = nn.Linear(config.latent_dim, config.hidden * config.layers)
        self.decoder = cell(in_dim + config.latent_dim, config.hidden, config.layers, batch_first=True)
        self.out = nn.Linear(config.hidden, out_dim)

    # -- the latent sampler (models/latent_sampling.py) ---------------------------------
    def configured_sampler(self) -> str:
        """``auto``: the mixture for continuous series without one-hot groups (global structure), else the prior."""
        if self.config.sampler != "auto":
            return self.config.sampler
        return "gmm" if not self.tokens and self.vrnn is None and not self.groups else "prior"

    @torch.no_grad()
    def sampler_codes(self, data: Any, limit: int | None, seed: int):
        """Posterior means of up to `limit` training windows (drawn with `seed` when there are more)."""
        if self.tokens or self.vrnn is not None:
            raise GenlabError("the gmm sampler is fitted on one code per continuous series; this model is "
                              f"{'a text model' if self.tokens else 'a VRNN'}: sample it with --sampler prior")
        x = data.tensors["x"].float()
        if limit is not None and len(x) > limit:
            x = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:limit]]
        with evaluating(self):
            codes = torch.cat([self.encode(x[i:i + 1000].to(self.device))[0].cpu() for i in range(0, len(x), 1000)])
        return codes, None, {"dataset": self.data_info.get("dataset"), "windows": int(len(x))}

    # -- the model --------------------------------------------------------------------
    def encode(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        if self.vrnn is not None:  # the per-step posteriors along the posterior-mean path, flattened
            out = self.vrnn(x, sample=False)  # (then the sequence's code, with --global-latent)
            mu, logvar = out["mu"].flatten(1), out["logvar"].flatten(1)
            if "global_mu" in out:
                mu, logvar = torch.cat([mu, out["global_mu"]], 1), torch.cat([logvar, out["global_logvar"]], 1)
            return mu, logvar
        if self.tokens:
            inp = self.embed(x)
            packed = nn.utils.rnn.pack_padded_sequence(inp, lengths.cpu(), batch_first=True, enforce_sorted=False)
            _, state = self.encoder(packed)
        else:
            _, state = self.encoder(x)
        h = state[0] if isinstance(state, tuple) else state
        mu, logvar = self.to_latent(h[-1]).chunk(2, -1)
        return mu, logvar.clamp(-30, 20)

    def initial_state(self, z: torch.Tensor):
        c = self.config
        h = torch.tanh(self.from_latent(z)).reshape(z.shape[0], c.layers, c.hidden).transpose(0, 1).contiguous()
        return (h, torch.zeros_like(h)) if c.cell == "lstm" else h

    def decode_steps(self, inp: torch.Tensor, z: torch.Tensor, state=None):
        """Run the decoder on embedded/continuous inputs B x S x E; returns outputs and state."""
        if state is None:
            state = self.initial_state(z)
        h, state = self.decoder(torch.cat([inp, z[:, None, :].expand(-1, inp.shape[1], -1)], -1), state)
        return self.out(h), state

    def decoder_inputs(self, x: torch.Tensor) -> torch.Tensor:
        p = self.config.word_dropout if self.training else 0.0
        if self.tokens:
            inp = x[:, :-1]
            if p > 0:
                drop = (torch.rand(inp.shape, device=inp.device) < p) & (inp != self.pad) & (inp != self.bos)
                inp = inp.masked_fill(drop, self.unk)
            return self.embed(inp)
        inp = torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], 1)
        if p > 0:
            keep = (torch.rand(inp.shape[:2], device=inp.device) >= p).to(inp.dtype)
            inp = inp * keep[..., None]
        return inp

    def log_likelihood(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x|z) per item (nats), summed over steps (and features)."""
        if self.tokens:
            target = x[:, 1:]
            nll = F.cross_entropy(out.transpose(1, 2), target, ignore_index=self.pad, reduction="none")
            return -nll.sum(1)
        return log_likelihood(out, x, self.log_sigma.clamp(min=math.log(1e-3)), self.groups)

    @staticmethod
    def kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)

    def forward_elbo(self, batch: dict[str, torch.Tensor]):
        x = batch["x"]
        if self.vrnn is not None:
            out = self.vrnn(x)
            return self.log_likelihood(out["logits"], x), out["kl"]
        mu, logvar = self.encode(x, batch.get("length"))
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        out, _ = self.decode_steps(self.decoder_inputs(x), z)
        return self.log_likelihood(out, x), self.kl(mu, logvar)

    # -- training ---------------------------------------------------------------------
    def configure_optimizers(self):
        return {"vae": adam(self.parameters(), self.config.lr, (0.9, 0.999))}

    def kl_weight(self, step: int) -> float:
        c = self.config
        if c.anneal == "none":
            return c.beta
        if c.anneal == "linear":
            return c.beta * min(1.0, step / c.anneal_steps)
        # logistic: 1 / (1 + exp(-k (step - s/2))) with k = 10 / s (0.7% at 0, 99.3% at s)
        return c.beta / (1.0 + math.exp(-10.0 * (step / c.anneal_steps - 0.5)))

    def train_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        ll, kl = self.forward_elbo(batch)
        rec, kl_mean = -ll.mean(), kl.mean()
        w = self.kl_weight(step)
        loss = rec + w * kl_mean
        self.optimize(loss, self.optimizers["vae"], clip_norm=self.config.grad_clip)
        return {"loss": loss.detach(), "rec": rec.detach(), "kl": kl_mean.detach(),
                "elbo": (-(rec + kl_mean)).detach(), "kl_weight": torch.tensor(w)}

    # -- sampling -----------------------------------------------------------------------
    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """N x latent_dim (one code per sequence), or N x T x latent_dim standard noise for a VRNN (then, with
        --global-latent, the sequence's code, the same at every step)."""
        if self.vrnn is not None:
            eps = self.randn(n, self.steps, self.config.latent_dim, generator=generator)
            if self.config.global_latent:
                s = self.randn(n, 1, self.config.global_latent, generator=generator)
                eps = torch.cat([eps, s.expand(-1, self.steps, -1)], -1)
            return eps
        return self.randn(n, self.config.latent_dim, generator=generator)

    def _generate_tokens(self, z: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
        n = z.shape[0]
        tokens = torch.full((n, self.steps), self.pad, dtype=torch.long, device=self.device)
        prev = torch.full((n, 1), self.bos, dtype=torch.long, device=self.device)
        done = torch.zeros(n, dtype=torch.bool, device=self.device)
        state = None
        for t in range(self.steps):
            logits, state = self.decode_steps(self.embed(prev), z, state)
            logits = logits[:, 0].float()
            logits[:, [self.pad, self.bos, self.unk]] = -math.inf
            if t == 0:  # words have at least one character
                logits[:, self.eos] = -math.inf
            if t == self.steps - 1:  # force an end at the maximum length
                logits[:, [i for i in range(logits.shape[1]) if i != self.eos]] = -math.inf
            probs = torch.softmax(logits / self.config.temperature, -1)
            nxt = torch.multinomial(probs, 1, generator=gen)[:, 0]
            nxt = torch.where(done, torch.full_like(nxt, self.pad), nxt)
            tokens[:, t] = nxt
            done |= nxt == self.eos
            if bool(done.all()):
                break
            prev = nxt[:, None]
        return tokens

    def series_noise(self, n: int, gen: torch.Generator | None) -> torch.Tensor | None:
        """Uniform noise N x T x groups that draws the categories of one-hot groups (None without groups)."""
        if not self.groups:
            return None
        return torch.rand(n, self.steps, len(self.groups), generator=gen, device=self.device)

    def _generate_series(self, z: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        """Run the decoder on its own outputs: means, and categories drawn with `u` (the most likely without)."""
        if self.vrnn is not None:
            return self.vrnn.generate(z)
        prev = z.new_zeros(z.shape[0], 1, self.out.out_features)
        state = None
        outs = []
        for t in range(self.steps):
            out, state = self.decode_steps(prev, z, state)
            prev = draw(out, self.groups, None if u is None else u[:, t], self.config.temperature)
            outs.append(prev)
        return torch.cat(outs, 1)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int | None = None, labels: Any = None, batch_size: int = 500,
               z: torch.Tensor | None = None, scaled: bool = False, sampler: str | None = None) -> dict[str, torch.Tensor]:
        self.check_labels(labels, n)
        with evaluating(self):
            gen = self.make_generator(seed)
            if z is None:
                z = self.draw_latents(n, gen, None, sampler)
            z = z.to(self.device)
            u = None if self.tokens else self.series_noise(n, gen)
            chunks = []
            for i in range(0, n, batch_size):
                zi = z[i:i + batch_size]
                ui = None if u is None else u[i:i + batch_size]
                chunks.append((self._generate_tokens(zi, gen) if self.tokens else self._generate_series(zi, ui)).cpu())
        x = torch.cat(chunks)
        if self.tokens:
            ends = (x == self.eos) | (x == self.pad)
            lengths = torch.where(ends.any(1), ends.float().argmax(1), torch.full((n,), x.shape[1])).long()
            return {"tokens": x, "lengths": lengths}
        return {"sequences": x.float() if scaled else inverse_transform(x, self.data_info)}

    def export_module(self, n: int = 2, seed: int = 0):
        """What `genlab export --format onnx` writes: the decoder run for every step (export.py)."""
        if self.vrnn is not None:
            raise GenlabError("ONNX export covers seqvae with --structure global; this model is a VRNN, sample it "
                              "with `genlab sample` instead")
        return export_module(self, n, seed)

    def decode_text(self, tokens: torch.Tensor) -> list[str]:
        """Token ids (from `sample` or a data batch) -> strings."""
        if not self.tokens:
            raise GenlabError(f"this {self.family} model was trained on series, not text; it has no characters")
        return decode_tokens(tokens, self.data_info)

    @torch.no_grad()
    def reconstruct(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Decode the posterior means of a batch (characters are sampled with seed 0)."""
        with evaluating(self):
            batch = {k: v.to(self.device) for k, v in batch.items()}
            if self.vrnn is not None:
                return torch.sigmoid(self.vrnn(batch["x"], sample=False)["logits"]).cpu()
            mu, _ = self.encode(batch["x"], batch.get("length"))
            out = self._generate_tokens(mu, self.make_generator(0)) if self.tokens else self._generate_series(mu)
        return out.cpu()

    @torch.no_grad()
    def preview(self, n: int, batch: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        if self.tokens:
            k = min(n, 24)
            fake = self.decode_text(self.sample(k, seed=0)["tokens"])
            real = decode_tokens(batch["x"][:k], self.data_info) if batch is not None else None
            return {"words": render_text(real, fake, n=k)}
        k = min(4, n)
        fake = self.sample(k, seed=0)["sequences"]
        real = inverse_transform(batch["x"][:k], self.data_info) if batch is not None else None
        return {"series": render_series(real, fake, self.data_info.get("columns"), n=k)}

    # -- evaluation -------------------------------------------------------------------
    @torch.no_grad()
    def heldout_elbo(self, data: Any, n: int = 2000, seed: int = 0) -> dict[str, float]:
        """Mean ELBO terms on up to `n` held-out items (nats per item)."""
        with evaluating(self):
            tensors = {k: v[:n].to(self.device) for k, v in data.tensors.items()}
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                ll, kl = self.forward_elbo(tensors)
        out = {"heldout_rec": float(-ll.mean()), "heldout_kl": float(kl.mean()),
               "heldout_elbo": float((ll - kl).mean())}
        if self.tokens:
            chars = float((tensors["length"] - 1).sum())  # characters and <eos>
            out["heldout_bits_per_char"] = float(-(ll - kl).sum()) / chars / math.log(2)
        return out

    def evaluate(self, data: Any, n: int | None = None, seed: int = 0, **steps: int) -> dict[str, float]:
        """Held-out ELBO, plus TimeGAN's scores (series) or word statistics (text)."""
        scores = self.heldout_elbo(data, seed=seed)
        if self.tokens:
            scores.update(evaluate_words(self, data, n, seed))
        else:
            scores.update(evaluate_sequences(self, data, n, seed, **steps))
        return scores
