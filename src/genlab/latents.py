"""Latent codes of real data from a VAE's encoder (the VAE as dimensionality reduction).

`encode(model, data)` runs the encoder q(z | x) of a vae, cvae or seqvae
over a dataset and returns, per item, the posterior mean ``mu`` and
log-variance ``logvar`` (N x latent_dim, float32) and the item's ``labels``
when the data has them (a cvae encodes each item given its true label).
`write_latents` stores them as an .npz (plus ``family``, ``dataset`` and
``split`` strings), written under a temporary name and renamed into place;
`read_latents` reads such a file back with its checks. ``genlab encode`` and
the web page's latent scatter (``genlab serve RUN --latents FILE``) use these.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import DataError, GenlabError
from .io import atomic_path, check_writable
from .models.seqvae.model import SeqVAE
from .models.vae.model import VAE

ENCODER_FAMILIES = "vae, cvae and seqvae"


def encoder_kind(model: Any) -> str:
    """'image' for the image VAEs, 'sequence' for seqvae; a one-line error for models without an encoder."""
    if isinstance(model, VAE):
        return "image"
    if isinstance(model, SeqVAE):
        return "sequence"
    raise GenlabError(f"encode needs a model with an encoder ({ENCODER_FAMILIES}); this run holds a "
                      f"{model.family} model, which only decodes (for a GAN, `genlab inpaint` fits a latent "
                      f"code to an image)")


@torch.no_grad()
def encode(model: Any, data: Any, *, batch_size: int = 500, limit: int | None = None) -> dict[str, np.ndarray]:
    """``mu``, ``logvar`` (and ``labels``) of every item of `data` (a TensorData or a tensor dict)."""
    kind = encoder_kind(model)
    tensors = data.prepare("cpu") if hasattr(data, "prepare") else dict(data)
    if limit is not None:
        tensors = {k: v[:limit] for k, v in tensors.items()}
    labels = tensors.get("y")
    if kind == "image":
        x, y = model.eval_tensors(tensors, None, 0, binarize=False)
    else:
        x, y = tensors["x"], None
    count = int(x.shape[0])
    if count == 0:
        raise DataError("the data holds no items to encode; pick another --split or a larger --limit")
    was_training = model.training
    model.eval()
    mus, logvars = [], []
    try:
        for i in range(0, count, batch_size):
            xb = x[i:i + batch_size].to(model.device)
            if kind == "image":
                mu, logvar = model.encode(xb, y[i:i + batch_size].to(model.device) if y is not None else None)
            else:
                lengths = tensors.get("length")
                mu, logvar = model.encode(xb, lengths[i:i + batch_size] if lengths is not None else None)
            mus.append(mu.float().cpu())
            logvars.append(logvar.float().cpu())
    finally:
        model.train(was_training)
    out = {"mu": torch.cat(mus).numpy(), "logvar": torch.cat(logvars).numpy()}
    if labels is not None:
        out["labels"] = labels.reshape(-1).long().numpy()
    return out


def write_latents(path: str | Path, arrays: dict[str, np.ndarray], **meta: str) -> Path:
    """Write `arrays` and string `meta` to an .npz, atomically."""
    path = Path(path)
    if path.suffix != ".npz":
        raise GenlabError(f"--out {str(path)!r} must be an .npz file, e.g. latents.npz")
    check_writable(path, folder=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays, **{k: np.array(str(v)) for k, v in meta.items()})
    return path


def read_latents(path: str | Path, latent_dim: int | None = None) -> dict[str, Any]:
    """``mu`` (N x d), ``logvar`` and ``labels`` (or None) of a file `write_latents` made, checked."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} is not a file; make one with genlab encode RUN --out {path.name}")
    try:
        with np.load(path, allow_pickle=False) as f:
            found = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot read {path} ({str(exc)[:100] or type(exc).__name__}); pass an .npz "
                        f"written by genlab encode") from None
    mu = found.get("mu")
    if mu is None or mu.ndim != 2 or mu.shape[0] == 0 or not np.issubdtype(mu.dtype, np.floating) \
            or not np.isfinite(mu).all():
        raise DataError(f"{path} holds no finite N x d 'mu' array; pass an .npz written by genlab encode")
    if latent_dim is not None and mu.shape[1] != latent_dim:
        raise DataError(f"{path} holds {mu.shape[1]}-dimensional codes but the model's latent space has "
                        f"{latent_dim} dimensions; encode with this run")
    labels = found.get("labels")
    if labels is not None and (labels.shape != (mu.shape[0],) or not np.issubdtype(labels.dtype, np.integer)):
        raise DataError(f"{path}: 'labels' must hold one integer per code")
    return {"mu": mu.astype(np.float32), "logvar": found.get("logvar"), "labels": labels,
            **{k: str(found[k]) for k in ("family", "dataset", "split") if k in found}}
