"""Scores for generated sequences: TimeGAN's post-hoc scores and text statistics.

Continuous sequences (N x T x D arrays scaled to [0, 1]):

- `discriminative_score` (Yoon et al. 2019): a 2-layer GRU classifier is
  trained to tell real from synthetic sequences on 80% of each, and scored
  on the other 20%; the score is |accuracy - 0.5| (0 = indistinguishable,
  0.5 = trivially told apart).
- `predictive_score` ("train on synthetic, test on real"): a GRU trained on
  synthetic sequences predicts the last feature one step ahead from the other
  features (or, for one feature, the next value from the current one); the
  score is its mean absolute error on the real sequences.
- Both leave out the features that are constant in the real data (the
  chorales' velocity): such a feature would decide either score by itself.
- `plot_pca_tsne`: PCA and t-SNE maps of real and synthetic sequences (each
  sequence reduced to its per-step mean over features, as in TimeGAN).

Text (lists of strings):

- `text_metrics`: the share of distinct samples, of samples not among the
  training words (novel), of samples that are real words (in the full list),
  and the Jensen-Shannon divergences (bits, in [0, 1]) between the character
  bigram and trigram distributions (with word boundaries) of the samples and
  of held-out words. For text lines (``text:PATH``, ``fortunes``) a "word" is
  a line: novel = not a training line, real = a line of either split. Any
  script works: characters are code points, whatever they are.

The classifiers train with gradients on even when called from a
`torch.no_grad()` context (as `GenerativeModel.evaluate` is).
"""

from __future__ import annotations

from .data.sequences import inverse_transform
from .data.music_features import event_range, events_from_features
from .metrics.music import music_scores

import contextlib
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from .data.sequences import read_words, reload_source
from .errors import GenlabError
from .viz import pyplot, save_figure


def _as_array(x: Any, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x), dtype=torch.float32)
    if t.dim() == 2:
        t = t.unsqueeze(-1)
    if t.dim() != 3:
        raise GenlabError(f"{name} must be N x T x D sequences (got shape {tuple(t.shape)})")
    if not torch.isfinite(t).all():
        raise GenlabError(f"{name} holds NaN or infinite values; check the model's samples")
    return t


class _GRUHead(nn.Module):
    def __init__(self, d_in: int, hidden: int, d_out: int, layers: int):
        super().__init__()
        self.rnn = nn.GRU(d_in, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, d_out)

    def forward(self, x: torch.Tensor, per_step: bool) -> torch.Tensor:
        h, last = self.rnn(x)
        return self.head(h) if per_step else self.head(last[-1])


@contextlib.contextmanager
def _few_threads(n: int = 1):
    """Run tiny recurrent nets on one thread: faster than several, and fair on a shared machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(min(n, old))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def drop_constant_features(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both sets without the features that never vary in the real data (e.g. the chorales' velocity).

    A constant real feature scores the model on nothing it could learn: a
    sigmoid output is never exactly the constant, so a classifier tells real
    from synthetic by it alone, and predicting a constant is trivial."""
    flat = real.reshape(-1, real.shape[-1])
    keep = flat.amax(0) > flat.amin(0)
    if not bool(keep.any()):
        raise GenlabError("every feature of the real sequences is constant; there is nothing to score")
    return (real, fake) if bool(keep.all()) else (real[..., keep], fake[..., keep])


def _batches(n: int, batch: int, steps: int, gen: torch.Generator) -> Iterable[torch.Tensor]:
    for _ in range(steps):
        yield torch.randint(0, n, (min(batch, n),), generator=gen)


def discriminative_score(real: Any, fake: Any, *, steps: int = 2000, batch_size: int = 128,
                         hidden: int | None = None, layers: int = 2, lr: float = 1e-3,
                         seed: int = 0) -> float:
    """|accuracy - 0.5| of a post-hoc GRU classifier, real vs synthetic, on held-out 20%
    (features constant in the real data left out)."""
    real, fake = _as_array(real, "real"), _as_array(fake, "fake")
    if real.shape[1:] != fake.shape[1:]:
        raise GenlabError(f"real {tuple(real.shape[1:])} and synthetic {tuple(fake.shape[1:])} sequences differ in shape")
    real, fake = drop_constant_features(real, fake)
    n = min(len(real), len(fake))
    if n < 10:
        raise GenlabError(f"the discriminative score needs at least 10 sequences of each kind (got {n})")
    gen = torch.Generator().manual_seed(seed)
    real = real[torch.randperm(len(real), generator=gen)[:n]]
    fake = fake[torch.randperm(len(fake), generator=gen)[:n]]
    cut = int(0.8 * n)
    x_train = torch.cat([real[:cut], fake[:cut]])
    y_train = torch.cat([torch.ones(cut), torch.zeros(cut)])
    x_test = torch.cat([real[cut:], fake[cut:]])
    y_test = torch.cat([torch.ones(n - cut), torch.zeros(n - cut)])
    d = real.shape[2]
    with torch.random.fork_rng(devices=[]), _few_threads():
        torch.manual_seed(seed)
        net = _GRUHead(d, hidden or max(4, d // 2), 1, layers)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        with torch.enable_grad():
            for idx in _batches(len(x_train), batch_size, steps, gen):
                logit = net(x_train[idx], per_step=False).squeeze(-1)
                loss = nn.functional.binary_cross_entropy_with_logits(logit, y_train[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        with torch.no_grad():
            pred = net(x_test, per_step=False).squeeze(-1) > 0
    acc = (pred.float() == y_test).float().mean().item()
    return abs(acc - 0.5)


def _predictive_io(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if x.shape[2] > 1:
        return x[:, :-1, :-1], x[:, 1:, -1:]
    return x[:, :-1], x[:, 1:]


def predictive_score(real: Any, fake: Any, *, steps: int = 5000, batch_size: int = 128,
                     hidden: int | None = None, layers: int = 1, lr: float = 1e-3, seed: int = 0) -> float:
    """Mean absolute error on real data of a GRU trained on synthetic data to predict one step ahead
    (features constant in the real data left out)."""
    real, fake = _as_array(real, "real"), _as_array(fake, "fake")
    if real.shape[1:] != fake.shape[1:]:
        raise GenlabError(f"real {tuple(real.shape[1:])} and synthetic {tuple(fake.shape[1:])} sequences differ in shape")
    real, fake = drop_constant_features(real, fake)
    if real.shape[1] < 2:
        raise GenlabError("the predictive score needs sequences of at least 2 steps")
    x_fake, y_fake = _predictive_io(fake)
    x_real, y_real = _predictive_io(real)
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]), _few_threads():
        torch.manual_seed(seed)
        net = _GRUHead(x_fake.shape[2], hidden or max(4, real.shape[2] // 2), 1, layers)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        with torch.enable_grad():
            for idx in _batches(len(x_fake), batch_size, steps, gen):
                pred = torch.sigmoid(net(x_fake[idx], per_step=True))
                loss = (pred - y_fake[idx]).abs().mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        with torch.no_grad():
            pred = torch.sigmoid(net(x_real, per_step=True))
    # mean over sequences of the per-sequence MAE (equal lengths: the overall mean)
    return (pred - y_real).abs().mean().item()


def sequence_scores(real: Any, fake: Any, *, seed: int = 0, disc_steps: int = 2000,
                    pred_steps: int = 5000, baseline: bool = False) -> dict[str, float]:
    """Both TimeGAN scores; with `baseline`, also the predictive score of training on real data."""
    out = {"discriminative": discriminative_score(real, fake, steps=disc_steps, seed=seed),
           "predictive": predictive_score(real, fake, steps=pred_steps, seed=seed)}
    if baseline:
        out["predictive_real"] = predictive_score(real, real, steps=pred_steps, seed=seed)
    return out


# ---------------------------------------------------------------------------
# PCA / t-SNE


def plot_pca_tsne(real: Any, fake: Any, path: str | Path, *, n: int = 1000, seed: int = 0,
                  title: str = "") -> Path:
    """Two panels: PCA (fitted on real) and t-SNE (fitted on both) of real vs synthetic."""
    from sklearn.decomposition import PCA  # noqa: PLC0415
    from sklearn.manifold import TSNE  # noqa: PLC0415

    real, fake = _as_array(real, "real"), _as_array(fake, "fake")
    rng = np.random.default_rng(seed)
    k = min(n, len(real), len(fake))
    r = real[rng.permutation(len(real))[:k]].mean(2).numpy()
    f = fake[rng.permutation(len(fake))[:k]].mean(2).numpy()
    pca = PCA(n_components=2, random_state=seed).fit(r)
    pr, pf = pca.transform(r), pca.transform(f)
    both = np.concatenate([r, f])
    tsne = TSNE(n_components=2, perplexity=min(40.0, max(5.0, (2 * k - 1) / 4)), init="pca",
                max_iter=500, random_state=seed).fit_transform(both)
    fig, axes = pyplot().subplots(1, 2, figsize=(9, 4), dpi=90)
    for ax, (a, b), name in ((axes[0], (pr, pf), "PCA"), (axes[1], (tsne[:k], tsne[k:]), "t-SNE")):
        ax.scatter(a[:, 0], a[:, 1], s=6, alpha=0.35, c="tab:red", label="real")
        ax.scatter(b[:, 0], b[:, 1], s=6, alpha=0.35, c="tab:blue", label="synthetic")
        ax.set_title(f"{name}{' - ' + title if title else ''}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].legend(loc="best", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


# ---------------------------------------------------------------------------
# text


def ngram_distribution(words: Iterable[str], n: int = 2) -> Counter:
    """Counts of character n-grams, with control characters STX and ETX marking each
    word's (or line's) boundaries, so any script, punctuation included, counts as it is."""
    counts: Counter = Counter()
    for w in words:
        s = f"\x02{w}\x03"
        counts.update(s[i:i + n] for i in range(len(s) - n + 1))
    return counts


def bigram_distribution(words: Iterable[str]) -> Counter:
    """Counts of character bigrams with the word boundaries marked (see `ngram_distribution`)."""
    return ngram_distribution(words, 2)


def js_divergence(p: Counter, q: Counter) -> float:
    """Jensen-Shannon divergence in bits (0 = same distribution, 1 = disjoint)."""
    keys = set(p) | set(q)
    sp, sq = sum(p.values()), sum(q.values())
    if not sp or not sq:
        return 1.0
    total = 0.0
    for k in keys:
        a, b = p.get(k, 0) / sp, q.get(k, 0) / sq
        m = (a + b) / 2
        if a:
            total += 0.5 * a * math.log2(a / m)
        if b:
            total += 0.5 * b * math.log2(b / m)
    return max(0.0, total)


def text_metrics(samples: Sequence[str], train_words: Iterable[str], all_words: Iterable[str],
                 heldout: Sequence[str]) -> dict[str, float]:
    """Novelty, real-word share, diversity and bigram JS divergence to held-out words."""
    if not samples:
        raise GenlabError("no samples to score")
    train, every = set(train_words), set(all_words)
    n = len(samples)
    return {
        "novel": sum(s not in train for s in samples) / n,
        "real_words": sum(s in every for s in samples) / n,
        "novel_real_words": sum(s in every and s not in train for s in samples) / n,
        "unique": len(set(samples)) / n,
        "empty": sum(not s for s in samples) / n,
        "mean_length": float(np.mean([len(s) for s in samples])),
        "heldout_mean_length": float(np.mean([len(s) for s in heldout])) if heldout else float("nan"),
        "bigram_js": js_divergence(bigram_distribution(samples), bigram_distribution(heldout)),
        "trigram_js": js_divergence(ngram_distribution(samples, 3), ngram_distribution(heldout, 3)),
    }


# ---------------------------------------------------------------------------
# used by the sequence families' evaluate()


def evaluate_sequences(model: Any, data: Any, n: int | None = None, seed: int = 0, *,
                       disc_steps: int = 2000, pred_steps: int = 5000) -> dict[str, float]:
    """Sample as many sequences as `data` holds (or `n`) and score them against it."""
    real = data.tensors["x"].float()
    n = int(n or min(len(real), 2000))
    if len(real) > n:
        real = real[torch.randperm(len(real), generator=torch.Generator().manual_seed(seed))[:n]]
    fake = model.sample(n, seed=seed, scaled=True)["sequences"]
    scores = sequence_scores(real, fake, seed=seed, disc_steps=disc_steps, pred_steps=pred_steps)
    if model.data_info.get("music"):  # note events: Mogren's statistics too

        info = model.data_info
        real_ev, fake_ev = (events_from_features(inverse_transform(x, info), info) for x in (real, fake))
        scores.update(music_scores(real_ev, fake_ev, {"scaler": event_range(info)}, seed))
    return scores


def evaluate_words(model: Any, data: Any, n: int | None = None, seed: int = 0) -> dict[str, float]:
    """Sample `n` words (default 2000) and compare them with the training and held-out words."""
    n = int(n or 2000)
    samples = model.decode_text(model.sample(n, seed=seed)["tokens"])
    heldout = data.words()
    src = data.info.get("source") or model.data_info.get("source") or {}
    if src.get("loader") == "words" and src.get("path") and Path(src["path"]).is_file():
        train = reload_source({"source": src}, "train").words()
        every = read_words(src["path"], 10**6)
    elif src.get("loader") not in (None, "words"):  # text lines: real = the lines of either split
        try:
            train = reload_source({"source": src}, "train").words()
        except GenlabError as exc:
            print(f"genlab: no training lines for novelty ({exc})", file=sys.stderr)
            train = []
        every = train + heldout
    else:  # no word list on this machine: held-out words only
        train, every = [], heldout
    return text_metrics(samples, train, every, heldout)
