"""The page's latent scatter: codes from `genlab encode`, drawn in 2-D, decoded on click.

`genlab serve RUN --latents latents.npz` loads the posterior means that
``genlab encode`` wrote for the same run. The page plots them coloured by
label: the two coordinates themselves for a 2-D latent space, else the first
two principal components (their share of the variance is in the axis names).
At most `MAX_POINTS` codes are drawn (a seeded random subset). Clicking a
point decodes its full posterior mean (a cvae with the item's label) into an
image, or a line of text for a character seqvae.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import GenlabError
from ..latents import encoder_kind, read_latents

MAX_POINTS = 5000


def project_2d(mu: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """N x 2 coordinates of N x d codes and the axis names (z1, z2 or PC1, PC2 with variance shares)."""
    if mu.shape[1] == 2:
        return mu.astype(np.float64), ["z1", "z2"]
    if mu.shape[1] == 1:
        return np.concatenate([mu, np.zeros_like(mu)], 1).astype(np.float64), ["z1", "(none)"]
    centred = mu.astype(np.float64) - mu.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    share = s**2 / max(float((s**2).sum()), 1e-12)
    return centred @ vt[:2].T, [f"PC{i + 1} ({100 * share[i]:.0f}% of the variance)" for i in range(2)]


class LatentScatter:
    """Codes of one .npz for one served model."""

    def __init__(self, session: Any, path: str | Path, seed: int = 0):
        model = session.model
        encoder_kind(model)  # a GAN has no codes to show
        found = read_latents(path, int(model.config.latent_dim))
        mu, labels = found["mu"], found["labels"]
        keep = np.arange(len(mu))
        if len(mu) > MAX_POINTS:
            keep = np.sort(np.random.default_rng(seed).choice(len(mu), MAX_POINTS, replace=False))
        self.session, self.mu = session, mu[keep]
        self.labels = labels[keep] if labels is not None else None
        self.xy, self.axes = project_2d(self.mu)
        self.source = f"{Path(path).name}: {len(mu)} codes" + (f" of {found['dataset']} {found.get('split', '')}"
                                                               if found.get("dataset") else "")

    def points(self) -> dict[str, Any]:
        names = self.session.class_names or list(self.session.model.data_info.get("class_names") or [])
        return {"x": [round(float(v), 5) for v in self.xy[:, 0]], "y": [round(float(v), 5) for v in self.xy[:, 1]],
                "labels": self.labels.tolist() if self.labels is not None else None,
                "class_names": [str(n) for n in names], "axes": self.axes, "source": self.source}

    def decode(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self.mu):
            raise GenlabError(f"point {index} is out of range; the scatter holds {len(self.mu)} points")
        model = self.session.model
        z = torch.from_numpy(self.mu[index:index + 1])
        label = int(self.labels[index]) if self.labels is not None else None
        with self.session.lock:
            if model.conditional:
                samples = model.sample(1, z=z, labels=label if label is not None else 0)
            else:
                samples = model.sample(1, z=z)
            out = self.session._render(samples)
        out.update(index=index, label=label)
        return out
