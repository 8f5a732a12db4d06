"""Edge-map scores: precision, recall and F1 of predicted edge pixels with a tolerance.

The BSDS boundary benchmark's way (Martin et al. 2004): an edge pixel is a
pixel at or above `threshold` (images in [0, 1]; `bright=False` for dark
lines on a light ground). A predicted edge pixel counts as correct when it
is matched to a true edge pixel at most `tolerance` pixels away (the
chessboard distance, so 1 means the 3 x 3 neighbourhood); the matching is
one-to-one (a maximum bipartite matching per image, scipy's
`maximum_bipartite_matching`), so a thick or noisy prediction cannot claim
one true pixel many times. Counts are summed over all images (BSDS's
dataset-scale scores at a fixed threshold):

- precision = matched / predicted edge pixels (0 when nothing is predicted),
- recall = matched / true edge pixels,
- F1 = their harmonic mean (0 when both are 0).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching


def edge_pixels(images01: torch.Tensor, threshold: float = 0.5, bright: bool = True) -> np.ndarray:
    """N x C x H x W images in [0, 1] -> N x H x W booleans (edge or not; channels averaged)."""
    grey = images01.float().mean(1)
    return (grey >= threshold if bright else grey <= 1 - threshold).cpu().numpy()


def matched_pixels(pred: np.ndarray, true: np.ndarray, tolerance: int = 1) -> int:
    """Size of a maximum one-to-one matching between the True pixels of two H x W maps,
    pairing pixels at most `tolerance` apart (chessboard distance)."""
    py, px = np.nonzero(pred)
    ty, tx = np.nonzero(true)
    if len(py) == 0 or len(ty) == 0:
        return 0
    index = -np.ones(true.shape, dtype=np.int64)
    index[ty, tx] = np.arange(len(ty))
    h, w = true.shape
    rows, cols = [], []
    for dy in range(-tolerance, tolerance + 1):
        for dx in range(-tolerance, tolerance + 1):
            y, x = py + dy, px + dx
            inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
            j = np.full(len(py), -1)
            j[inside] = index[y[inside], x[inside]]
            rows.append(np.nonzero(j >= 0)[0])
            cols.append(j[j >= 0])
    r, c = np.concatenate(rows), np.concatenate(cols)
    if len(r) == 0:
        return 0
    graph = csr_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(len(py), len(ty)))
    return int((maximum_bipartite_matching(graph, perm_type="column") >= 0).sum())


def edge_counts(pred01: torch.Tensor, true01: torch.Tensor, tolerance: int = 1, threshold: float = 0.5,
                bright: bool = True) -> tuple[int, int, int]:
    """(matched, predicted, true) edge pixels summed over a batch of images in [0, 1]."""
    if pred01.shape[0] != true01.shape[0] or pred01.shape[-2:] != true01.shape[-2:]:
        raise ValueError(f"edge scores need images of equal number and size, got {tuple(pred01.shape)} "
                         f"and {tuple(true01.shape)}")
    pred = edge_pixels(pred01, threshold, bright)
    true = edge_pixels(true01, threshold, bright)
    matched = sum(matched_pixels(p, t, tolerance) for p, t in zip(pred, true))
    return matched, int(pred.sum()), int(true.sum())


def edge_scores(pred01: torch.Tensor, true01: torch.Tensor, tolerance: int = 1, threshold: float = 0.5,
                bright: bool = True) -> dict[str, float]:
    """``edge_precision``, ``edge_recall`` and ``edge_f1`` of predicted edge maps against true ones."""
    matched, n_pred, n_true = edge_counts(pred01, true01, tolerance, threshold, bright)
    precision = matched / n_pred if n_pred else 0.0
    recall = matched / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"edge_precision": precision, "edge_recall": recall, "edge_f1": f1}
