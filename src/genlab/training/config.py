"""Trainer settings: data, budget, logging, checkpoints and devices."""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass
from typing import Any, List, Literal, Optional

import torch

from ..config import option
from ..errors import ConfigError
from ..extras import require

#: settings that may change when a run is resumed (everything else must match)
RESUMABLE_KEYS = {"steps", "epochs", "minutes", "log_every", "sample_every", "checkpoint_every",
                  "keep_checkpoints", "device", "progress", "tensorboard", "logger", "data_root", "out", "num_workers",
                  "compile", "channels_last", "grid_size", "eval_every", "eval_n", "eval_metrics",
                  "best_metric", "amp", "keep_freed_memory", "max_rollbacks", "rollback_lr_factor", "max_grad_norm"}


@dataclass
class TrainConfig:
    data: str = option("fashion-mnist", help="dataset name or folder:PATH / csv:PATH / words:PATH")
    data_root: Optional[str] = option(None, help="where datasets live (else $GENLAB_DATA, Debian's, torchvision's)")
    split: str = option("train", help="dataset split to train on")
    image_size: Optional[int] = option(None, help="resize images to this side (e.g. 32 or 64)", min=4, max=1024)
    seq_len: Optional[int] = option(None, help="sequence data: window length (csv:, sines)", min=2)
    max_len: Optional[int] = option(None, help="token data: longest word or line kept (words:)", min=2)
    min_count: Optional[int] = option(None, help="text lines (text:, fortunes): characters seen fewer than N times "
                                                 "in training become <unk> (default 2)", min=1)
    transpose: Optional[bool] = option(None, help="music (chorales, midi:): move each piece to C major / A minor "
                                                  "(default on; --no-transpose keeps its key)")
    limit: Optional[int] = option(None, help="use only the first N items of the dataset", min=1)
    strict_data: bool = option(False, help="refuse unreadable files in folder: data instead of skipping them")
    num_workers: Optional[int] = option(None, help="worker processes decoding folder:/unpaired: images "
                                                   "(default: one per core, up to 8; 0 = the main process)", min=0)
    steps: Optional[int] = option(None, help="number of training steps (default 2000 unless --epochs/--minutes)", min=1)
    epochs: Optional[float] = option(None, help="number of passes over the data", min=0)
    minutes: Optional[float] = option(None, help="wall-clock budget; stops and saves when it runs out", min=0)
    batch_size: int = option(64, help="items per step (per process when distributed)", min=1)
    seed: int = option(0, help="random seed of the run", min=0, max=2**63 - 1)
    log_every: int = option(50, help="steps between log lines, progress updates and metrics.jsonl rows", min=1)
    sample_every: int = option(500, help="steps between sample grids (0 = only at the end)", min=0)
    checkpoint_every: int = option(1000, help="steps between checkpoints (0 = only at the end)", min=0)
    keep_checkpoints: int = option(3, help="how many recent checkpoints to keep", min=1)
    grid_size: int = option(64, help="images in each sample grid", min=1, max=1024)
    device: str = option("auto", help="auto, cpu, cuda or cuda:N")
    tensorboard: bool = option(True, help="write TensorBoard scalars and images under RUN/tb")
    logger: List[Literal["tensorboard", "mlflow", "wandb"]] = option(
        ["tensorboard"], help="experiment trackers, comma-separated: tensorboard, mlflow (pip install "
                              "'genlab[mlflow]'), wandb (pip install 'genlab[wandb]')")
    progress: bool = option(True, help="show a progress bar")
    deterministic: bool = option(False, help="use deterministic algorithms (bit-exact resume on CPU)")
    eval_every: int = option(0, help="evaluate samples every N steps (0 = off); best weights go to RUN/best/", min=0)
    eval_n: int = option(2000, help="samples per periodic evaluation", min=10)
    eval_metrics: str = option("fid", help="metrics of the periodic evaluation, comma-separated")
    best_metric: str = option("fid", help="metric that picks the best checkpoint (lower fid/kid is better)")
    amp: Literal["off", "bf16", "fp16"] = option("off", help="automatic mixed precision: bf16 autocast, or fp16 autocast "
                                                              "with a gradient scaler (for GPUs)")
    channels_last: bool = option(True, help="channels-last memory format for convolutions (faster on CPU and GPU)")
    compile: bool = option(False, help="torch.compile the model's networks")
    keep_freed_memory: bool = option(True, help="CPU runs on Linux: keep freed memory in the process between steps "
                                                "(glibc mallopt) instead of page-faulting fresh memory each step")
    sync_bn: bool = option(False, help="SyncBatchNorm across processes (CUDA, distributed runs)")
    max_rollbacks: int = option(3, help="divergence: roll back to the last good checkpoint at most this often", min=0)
    rollback_lr_factor: float = option(0.5, help="divergence: multiply learning rates by this after a rollback",
                                       min=0, max=1)
    max_grad_norm: float = option(1e5, help="divergence: a gradient norm above this counts as exploding (0 = off)",
                                  min=0)

    def validate(self) -> None:
        if sum(x is not None for x in (self.steps, self.epochs)) > 1:
            raise ConfigError("give either --steps or --epochs, not both")
        if not (self.device in ("auto", "cpu", "cuda", "mps") or self.device.startswith("cuda:")):
            raise ConfigError(f"bad value {self.device!r} for 'device': valid values are auto, cpu, cuda, cuda:N, mps")
        for name in ("mlflow", "wandb"):
            if name in self.logger:
                require(name, f"--logger {name}")


def train_command(family: str, model_config: Any, train_config: TrainConfig) -> str:
    """The `genlab train` command line that reproduces these settings: the family, the data,
    and every option whose value differs from its default (for model cards and reports)."""
    parts = ["genlab", "train", family, "--data", shlex.quote(train_config.data)]
    for config in (model_config, train_config):
        defaults = type(config)()
        for f in dataclasses.fields(config):
            value = getattr(config, f.name)
            if f.name in ("data", "progress") or value == getattr(defaults, f.name):
                continue
            flag = "--" + f.name.replace("_", "-")
            if isinstance(value, bool):
                parts.append(flag if value else "--no-" + f.name.replace("_", "-"))
            elif isinstance(value, (list, tuple)):
                parts += [flag, shlex.quote(",".join(str(v) for v in value))]
            else:
                parts += [flag, shlex.quote(str(value))]
    return " ".join(parts)


def check_precision(model: Any, config: TrainConfig, device: torch.device) -> None:
    """Refuse, before any work, mixed-precision settings the model cannot train with."""
    if config.amp != "fp16":
        return
    if model.uses_gradient_penalty:
        raise ConfigError("--amp fp16 cannot train a gradient penalty (R1 or WGAN-GP): its second-order "
                          "gradients overflow half precision; use --amp bf16, or drop the penalty")
    if device.type == "cpu" and any(isinstance(m, torch.nn.RNNBase) for m in model.modules()):
        raise ConfigError("--amp fp16 cannot run recurrent layers on the CPU (oneDNN has no fp16 LSTM); "
                          "use --amp bf16 there, or fp16 on a GPU")
