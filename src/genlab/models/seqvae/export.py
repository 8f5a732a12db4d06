"""What `genlab export --format onnx` writes for a SeqVAE: its decoder run for every step.

- Series: z (N x latent) -> sequences N x T x D in the data's units; the
  decoder runs on its own mean predictions, exactly as `sample` does. With
  one-hot groups (music's pitch class) uniform noise u (N x T x groups) is an
  input too and draws the categories, as `sample` does with the same u.
- Characters: z and uniform noise u (N x steps) -> token ids N x steps. A
  graph cannot call a random generator that matches PyTorch's, so the noise is
  an input and each character is drawn by inverse-CDF sampling (the first
  character whose cumulative probability exceeds u); the masks of `sample`
  apply (no padding, start or unknown tokens; at least one character; an end
  at the maximum length) and everything after the end is padding. The same
  z and u give the same tokens in PyTorch and onnxruntime.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn

from ...data.sequences import ToUnits

if TYPE_CHECKING:
    from .model import SeqVAE


class SeriesExport(nn.Module):
    output_name = "sequences"

    def __init__(self, model: "SeqVAE"):
        super().__init__()
        self.model = model
        self.to_units = ToUnits(model.data_info, model.device)

    def forward(self, z: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        return self.to_units(self.model._generate_series(z, u))


class TokensExport(nn.Module):
    output_name = "tokens"

    def __init__(self, model: "SeqVAE"):
        super().__init__()
        self.model = model
        vocab = int(model.out.out_features)
        masks = torch.zeros(3, vocab)
        masks[:, [model.pad, model.bos, model.unk]] = -math.inf
        masks[0, model.eos] = -math.inf  # the first step: at least one character
        masks[2] = -math.inf  # the last step: only the end token
        masks[2, model.eos] = 0.0
        self.register_buffer("masks", masks.to(model.device), persistent=False)

    def forward(self, z: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        m = self.model
        prev = torch.full_like(u[:, :1], m.bos, dtype=torch.long)
        done = torch.zeros_like(u[:, 0], dtype=torch.bool)
        state = None
        outs = []
        for t in range(m.steps):
            logits, state = m.decode_steps(m.embed(prev), z, state)
            mask = self.masks[2 if t == m.steps - 1 else (0 if t == 0 else 1)]
            probs = torch.softmax((logits[:, 0].float() + mask) / m.config.temperature, -1)
            cdf = torch.cumsum(probs, -1)
            nxt = (cdf < u[:, t:t + 1]).sum(-1).clamp(max=probs.shape[-1] - 1)
            nxt = torch.where(done, torch.full_like(nxt, m.pad), nxt)
            outs.append(nxt)
            done = done | (nxt == m.eos)
            prev = nxt[:, None]
        return torch.stack(outs, 1)


def export_module(model: "SeqVAE", n: int, seed: int):
    """(module, example inputs, input names) for `genlab.export`."""
    gen = model.make_generator(seed)
    z = model.latent(n, gen)
    if not model.tokens:
        u = model.series_noise(n, gen)
        return (SeriesExport(model), (z,), ["z"]) if u is None else (SeriesExport(model), (z, u), ["z", "u"])
    u = torch.rand(n, model.steps, generator=gen, device=model.device)
    return TokensExport(model), (z, u), ["z", "u"]
