"""Module modes that must come back however a block ends.

- ``evaluating(module)``: eval mode inside the block, the previous mode
  (training or not) restored afterwards, also when the block raises (a bad
  class label must not leave a model in eval mode).
- ``frozen(*modules)``: parameters need no gradients inside the block (a GAN's
  discriminator during the generator phase); each parameter's previous flag
  is restored afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn


@contextlib.contextmanager
def evaluating(module: nn.Module) -> Iterator[nn.Module]:
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    params = [p for m in modules for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)
