"""Multi-process data-parallel training on torch.distributed.

Launched by ``torchrun --nproc-per-node N -m genlab train ...`` (or on several
machines with ``--nnodes``/``--rdzv-endpoint``). Families keep owning their
step: instead of wrapping each network in DistributedDataParallel (which
does not fit a GAN step that calls D several times before one backward),
genlab averages every optimizer's gradients across processes between backward
and ``optimizer.step()`` (in ``GenerativeModel.optimize``, before fp16
unscaling so every rank sees the same overflow; an optimizer step pre-hook
covers steps written by hand). Together with

- the data split so that rank r takes the r-th slice of each global batch,
- the same seed on every rank, with each rank taking its own slice of noise
  drawn for the whole global batch (`GenerativeModel.randn`),

a run on N processes of batch B follows the same path as one process of
batch N*B, up to floating-point summation order (and BatchNorm statistics,
which stay per process unless SyncBatchNorm is on: CUDA only).
"""

from __future__ import annotations

import os
from datetime import timedelta

import torch
import torch.distributed as dist


def env_world() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment."""
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
            int(os.environ.get("LOCAL_RANK", 0)))


def init(device: torch.device) -> tuple[int, int]:
    """Join the process group when launched by torchrun; (rank, world_size)."""
    rank, world, local = env_world()
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=timedelta(minutes=10))
    if device.type == "cuda":
        torch.cuda.set_device(local)
    return dist.get_rank(), dist.get_world_size()


def local_device(device: torch.device) -> torch.device:
    rank, world, local = env_world()
    if world > 1 and device.type == "cuda":
        return torch.device("cuda", local)
    return device


def broadcast_parameters(module: torch.nn.Module) -> None:
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=0)


def average_gradients(world: int):
    """A function that all-reduces an optimizer's gradients (one flat buffer) and
    divides by the number of processes; `GenerativeModel.optimize` calls it between
    backward and step. It marks the optimizer, so the step pre-hook below skips it."""

    def average(optimizer: torch.optim.Optimizer) -> None:
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        optimizer._genlab_grads_averaged = True
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat.div_(world)
        offset = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[offset:offset + n].view_as(g))
            offset += n

    return average


def average_gradients_hook(world: int):
    """An optimizer step pre-hook that averages the gradients unless `optimize` already
    did (a family stepping its optimizer by hand still trains correctly)."""
    average = average_gradients(world)

    def hook(optimizer: torch.optim.Optimizer, args, kwargs):
        if getattr(optimizer, "_genlab_grads_averaged", False):
            optimizer._genlab_grads_averaged = False
            return
        average(optimizer)
        optimizer._genlab_grads_averaged = False

    return hook


def _device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_mean(values: dict[str, float]) -> dict[str, float]:
    """Average logged scalars over processes (at logging steps only)."""
    if not (dist.is_available() and dist.is_initialized()) or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=_device())
    dist.all_reduce(t)
    t /= dist.get_world_size()
    return dict(zip(keys, t.cpu().tolist()))


def any_flag(flag: bool) -> bool:
    """True on every rank if it is true on any (stop signals, divergence)."""
    if not (dist.is_available() and dist.is_initialized()):
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
