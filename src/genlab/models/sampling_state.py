"""The weights sampling needs, and nothing else (``save_pretrained(generator_only=True)``).

No family has to declare anything: the model samples (or, for translation
families, translates a batch in every direction) once with forward hooks on
every submodule, and keeps the tensors of the submodules that ran plus the
model's own direct tensors (stored example images, learned scales). A GAN
keeps its sampling generator (the EMA copy when there is one) and drops the
discriminator and the raw generator; a VAE keeps its decoder.

Files the family keeps beside the weights (a VAE's fitted latent sampler)
travel with them. The choice is then checked, not trusted: a fresh model built from the same
config and filled with only the kept tensors must produce exactly the same
samples as the full model, or saving stops with an error.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..capabilities import translation_directions
from ..errors import GenlabError
from ..modes import evaluating

if TYPE_CHECKING:
    from .base import GenerativeModel


def _exercise(model: "GenerativeModel") -> list[torch.Tensor]:
    """Outputs of what users do with a model: samples, or translations in each direction."""
    directions = translation_directions(model)
    if directions:
        gen = torch.Generator().manual_seed(0)
        outs = []
        for direction in directions:
            c, h, w = model.shapes(direction)[1]
            outs.append(model.translate(torch.rand(2, c, h, w, generator=gen), direction))
        return outs
    out = model.sample(3, seed=0)
    return [v for v in out.values() if isinstance(v, torch.Tensor)]


def _used_modules(model: "GenerativeModel") -> set[int]:
    ran: set[int] = set()
    hooks = [m.register_forward_pre_hook(lambda mod, args: ran.add(id(mod)))
             for m in model.modules() if m is not model]
    try:
        _exercise(model)
    finally:
        for h in hooks:
            h.remove()
    return ran


def sampling_state_dict(model: "GenerativeModel") -> dict[str, torch.Tensor]:
    """The subset of `model.state_dict()` that sampling reads (checked: see the module doc)."""
    with evaluating(model):
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            ran = _used_modules(model)
            owners = {name: id(m) for name, m in model.named_modules(remove_duplicate=False)}
            state = model.state_dict()
            kept = {k: v for k, v in state.items() if "." not in k or owners.get(k.rsplit(".", 1)[0]) in ran}
            _check_sampling_state(model, kept)
    if len(kept) == len(state):
        return state
    return kept


def _check_sampling_state(model: "GenerativeModel", kept: dict[str, torch.Tensor]) -> None:
    fresh = type(model)(copy.deepcopy(model.config), dict(model.data_info))
    fresh.load_state_dict(kept, strict=False)
    fresh.load_extra_files(model.extra_files(), source=f"the {model.family} model")  # a fitted latent sampler
    fresh.to(model.device).eval()
    for want, got in zip(_exercise(model), _exercise(fresh)):
        if want.shape != got.shape or not torch.allclose(want.float(), got.float(), atol=1e-5, rtol=0):
            raise GenlabError(f"cannot tell which {model.family} weights sampling needs (a model with only "
                              f"those samples differently); save the full weights (drop --generator-only)")


def load_sampling_state(model: nn.Module, state: dict[str, Any], source: Any = "this folder") -> None:
    """Fill a model from a generator-only state. Every saved tensor must fit; a submodule whose
    weights were left out (a discriminator, an encoder) refuses to run, in one line, rather
    than compute with its untrained initial weights."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise RuntimeError(f"unexpected key(s) in state_dict: {', '.join(unexpected[:3])}")
    missing_set = set(missing)
    for name, module in model.named_modules():
        own = [f"{name}.{k}" for k, _ in module.named_parameters(recurse=False)]
        own += [f"{name}.{k}" for k, _ in module.named_buffers(recurse=False)]
        if name and own and all(k in missing_set for k in own):
            module.register_forward_pre_hook(_refuse(name, source))


def _refuse(name: str, source: Any):
    def hook(module: nn.Module, args: Any) -> None:
        raise GenlabError(f"{source} holds only the weights sampling needs (generator-only), not {name!r}; "
                          f"use the run or a full checkpoint for this")
    return hook
