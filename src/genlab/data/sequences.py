"""Sequence datasets: synthetic sines, time series from CSV files, and words.

- ``sines``: the synthetic multivariate sines of TimeGAN (Yoon et al. 2019):
  each feature of each sequence is ``sin(f * t + p)`` with its own frequency
  ``f`` and phase ``p`` drawn uniformly from [0, 0.1], mapped to [0, 1].
  Generated from a fixed seed, so every call gives the same data. The test
  split is the last 10% of the sequences. With ``classes=K`` each sequence
  gets a label and class ``k`` draws its frequencies from its own band, a
  small labelled set for conditional models.
- ``csv:PATH``: a multivariate time series, one row per time step, with a
  header. A column named date/time/timestamp (any case) orders the rows,
  oldest first, and is dropped; without one, the file's order is taken as
  oldest first. A column named id/series (or series_id, ...) splits the
  file into several series of any lengths. Every other column must be
  numeric; missing cells are filled (see `genlab.data.csv_table` for the
  rules and the refusals). Each feature is min-max scaled to [0, 1] over the
  whole file (as in TimeGAN) and each series is cut into sliding windows of
  ``seq_len`` steps (stride 1) that never cross into another series. With one
  series, the test split holds the windows that lie wholly in the last 10% of
  the rows and the train split those wholly in the first 90%, so no time
  step is in both; with several, series shorter than ``seq_len`` are
  dropped and the last 10% of the others (at least one) are the test split.
  For both ``sines`` and ``csv:``, ``split="all"`` (``--split all``) holds
  every sequence, for protocols that train and score on the same data, as
  TimeGAN's benchmark does.
- ``words:PATH``: character-level words, one per line (default
  ``/usr/share/dict/american-english``). A line is kept when, stripped of
  white space, it consists of 1 to ``max_len`` lowercase ASCII letters a-z
  (this drops proper nouns, possessives such as ``dog's`` and accented
  words); duplicates are removed. A fixed-seed random 10% is the test split.

Continuous batches hold ``"x"`` as float B x T x D in [0, 1] (the scaled
values; `inverse_transform` maps them back to original units with the
scaler saved in ``info``). Token batches hold ``"x"`` as long B x L
(``BOS c1 .. cn EOS PAD ..``) and ``"length"`` (n + 2, BOS and EOS counted).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import DataError
from ..registry import DATASETS
from .base import TensorData
from .csv_table import read_csv_table

DEFAULT_WORDS = "/usr/share/dict/american-english"
PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = [PAD, BOS, EOS, UNK]
WORD_RULE = re.compile(r"^[a-z]+$")
TEST_FRACTION = 0.1


class SequenceData(TensorData):
    """Continuous sequences: ``x`` float N x T x D scaled to [0, 1]."""

    @property
    def columns(self) -> list[str]:
        return list(self.info.get("columns") or [])

    def inverse_transform(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        return inverse_transform(x, self.info)

    def transform(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        return transform(x, self.info)


class TokenData(TensorData):
    """Character sequences: ``x`` long N x L and ``length`` long N."""

    @property
    def vocab(self) -> list[str]:
        return list(self.info["vocab"])

    def words(self) -> list[str]:
        return decode_tokens(self.tensors["x"], self.info)


# ---------------------------------------------------------------------------
# scaling


def _scaler_arrays(info: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    scaler = info.get("scaler")
    if not scaler:
        raise DataError("this data has no scaler in its info; it was not made by a genlab sequence dataset")
    lo = torch.tensor(scaler["min"], dtype=torch.float64)
    hi = torch.tensor(scaler["max"], dtype=torch.float64)
    return lo, hi


def scaler_span(info: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """(min, max - min) per feature (span 1 where a feature is constant), float64."""
    lo, hi = _scaler_arrays(info)
    return lo, torch.where(hi > lo, hi - lo, torch.ones_like(hi))


def transform(x: torch.Tensor | np.ndarray, info: dict[str, Any]) -> torch.Tensor:
    """Original units -> [0, 1] with the per-feature min/max of `info["scaler"]`."""
    lo, span = scaler_span(info)
    x = torch.as_tensor(x, dtype=torch.float64)
    return ((x - lo) / span).float()


def inverse_transform(x: torch.Tensor | np.ndarray, info: dict[str, Any]) -> torch.Tensor:
    """[0, 1] values -> original units (the inverse of `transform`)."""
    lo, span = scaler_span(info)
    x = torch.as_tensor(x).detach().cpu().to(torch.float64)
    return (x * span + lo).float()


class ToUnits(torch.nn.Module):
    """`inverse_transform` as a module (float32, on `device`), for graphs such as ONNX exports."""

    def __init__(self, info: dict[str, Any], device: torch.device | str = "cpu"):
        super().__init__()
        lo, span = scaler_span(info)
        self.register_buffer("lo", lo.float().to(device), persistent=False)
        self.register_buffer("span", span.float().to(device), persistent=False)

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        return x01 * self.span + self.lo


def _make_sequence_data(name: str, windows: np.ndarray, info: dict[str, Any],
                        labels: np.ndarray | None = None) -> SequenceData:
    tensors = {"x": torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32))}
    info = {"kind": "sequence", "dataset": name, "shape": list(windows.shape[1:]),
            "seq_len": int(windows.shape[1]), "dim": int(windows.shape[2]), "num_classes": 0, **info}
    if labels is not None:
        tensors["y"] = torch.from_numpy(labels.astype(np.int64))
        info["num_classes"] = int(labels.max()) + 1
        info["class_names"] = [str(i) for i in range(info["num_classes"])]
    return SequenceData(name, tensors, info)


def _check_split(split: str, name: str, all_ok: bool = False) -> None:
    valid = ("train", "test", "all") if all_ok else ("train", "test")
    if split not in valid:
        raise DataError(f"unknown split {split!r} for {name}; valid splits: {', '.join(valid)}")


# ---------------------------------------------------------------------------
# sines


@DATASETS.register("sines")
def sines(root: str | None = None, split: str = "train", image_size: int | None = None, n: int = 10000,
          seq_len: int = 24, dim: int = 5, classes: int = 0, seed: int = 0) -> SequenceData:
    """TimeGAN's multivariate sines: n sequences of seq_len steps and dim features in [0, 1]."""
    _check_split(split, "sines", all_ok=True)
    if n < 10 or seq_len < 2 or dim < 1:
        raise DataError(f"sines needs n >= 10, seq_len >= 2 and dim >= 1 (got n={n}, seq_len={seq_len}, dim={dim})")
    rng = np.random.default_rng(seed)
    t = np.arange(seq_len, dtype=np.float64)
    if classes:
        labels = rng.integers(0, classes, size=n)
        # class k draws its frequencies from the band [k, k + 1] * 0.2 / classes
        width = 0.2 / classes
        freq = (labels[:, None] + rng.uniform(0, 1, size=(n, dim))) * width
    else:
        labels = None
        freq = rng.uniform(0, 0.1, size=(n, dim))
    phase = rng.uniform(0, 0.1, size=(n, dim))
    data = (np.sin(freq[:, None, :] * t[None, :, None] + phase[:, None, :]) + 1) / 2
    cut = n - max(1, int(round(TEST_FRACTION * n)))
    part = {"train": slice(0, cut), "test": slice(cut, n), "all": slice(0, n)}[split]
    info = {"split": split, "columns": [f"feature{i}" for i in range(dim)],
            "scaler": {"min": [0.0] * dim, "max": [1.0] * dim, "columns": [f"feature{i}" for i in range(dim)]},
            "source": {"loader": "sines", "n": n, "seq_len": seq_len, "dim": dim, "classes": classes, "seed": seed}}
    return _make_sequence_data("sines", data[part], info, labels[part] if labels is not None else None)


# ---------------------------------------------------------------------------
# CSV time series


def sliding_windows(values: np.ndarray, seq_len: int) -> np.ndarray:
    """All windows of `seq_len` consecutive rows (stride 1): W x seq_len x D."""
    n = values.shape[0] - seq_len + 1
    if n < 1:
        return np.empty((0, seq_len, values.shape[1]), dtype=values.dtype)
    idx = np.arange(seq_len)[None, :] + np.arange(n)[:, None]
    return values[idx]


@DATASETS.register("csv")
def csv_series(path: str = "", root: str | None = None, split: str = "train", image_size: int | None = None,
               seq_len: int = 24, reverse: bool = False) -> SequenceData:
    """Sliding windows of a CSV time series (or of several, one per id), min-max scaled per feature."""
    _check_split(split, "csv", all_ok=True)
    if not path:
        raise DataError("csv dataset needs a path: use csv:PATH")
    table = read_csv_table(path)
    columns = table.columns
    series = [s[::-1].copy() for s in table.series] if reverse else table.series
    values = np.concatenate(series)
    lo, hi = values.min(0), values.max(0)
    with np.errstate(over="ignore"):
        overflow = ~np.isfinite(hi - lo)
    if overflow.any():
        j = int(np.argmax(overflow))
        raise DataError(f"column {columns[j]!r} of {path} spans {lo[j]:.3g} .. {hi[j]:.3g}, too wide to scale in "
                        f"floating point; rescale the column (e.g. divide it by a large power of 10)")
    info_scaler = {"min": lo.tolist(), "max": hi.tolist(), "columns": columns}
    span = np.where(hi > lo, hi - lo, 1.0)
    scaled = [(s - lo) / span for s in series]
    longest = max(len(s) for s in scaled)
    usable = [s for s in scaled if len(s) >= seq_len]
    if not usable and len(scaled) > 1:
        raise DataError(f"no series in {path} has {seq_len} rows (the longest of {len(scaled)} has {longest}); "
                        f"use a shorter --seq-len")
    if split == "all":  # every window of every series (TimeGAN trains and scores on the same windows)
        parts = usable
    elif len(scaled) == 1:  # one series: split in time, the last 10% of rows are the test split
        cut = len(values) - max(1, int(round(TEST_FRACTION * len(values))))
        parts = [scaled[0][:cut] if split == "train" else scaled[0][cut:]]
    else:  # several: whole series are held out, the last 10% of those long enough for a window
        n_test = max(1, int(round(TEST_FRACTION * len(usable)))) if len(usable) > 1 else 0
        parts = usable[:len(usable) - n_test] if split == "train" else usable[len(usable) - n_test:]
    windows = np.concatenate([sliding_windows(part, seq_len) for part in parts]) if parts else \
        np.empty((0, seq_len, len(columns)))
    if len(windows) == 0:
        raise DataError(f"{path} has too few rows ({len(values)}) for windows of {seq_len} steps in the {split} split; "
                        f"use a shorter --seq-len or a longer series")
    info = {"split": split, "columns": columns, "scaler": info_scaler, "date_column": table.date_column,
            "series_column": table.group_column, "series": len(scaled), "short_series_dropped": len(scaled) - len(usable),
            "filled_cells": table.filled,
            "source": {"loader": "csv", "path": str(Path(path).expanduser().resolve()), "seq_len": seq_len,
                       "reverse": reverse}}
    return _make_sequence_data(f"csv:{path}", windows, info)


# ---------------------------------------------------------------------------
# words


def read_words(path: str | Path = DEFAULT_WORDS, max_len: int = 16) -> list[str]:
    """Distinct lines of `path` that are 1..max_len lowercase ASCII letters, in file order."""
    p = Path(path or DEFAULT_WORDS).expanduser()
    if not p.is_file():
        hint = " (install it with `apt-get install wamerican`)" if str(p) == DEFAULT_WORDS else ""
        raise DataError(f"word list {str(p)!r} not found{hint}; pass words:PATH with one word per line")
    seen: dict[str, None] = {}
    with open(p, encoding="utf-8", errors="replace") as f:
        for line in f:
            w = line.strip()
            if WORD_RULE.match(w) and len(w) <= max_len:
                seen.setdefault(w, None)
    if not seen:
        raise DataError(f"{p} holds no usable words (lines of 1..{max_len} lowercase letters a-z)")
    return list(seen)


def encode_words(words: Sequence[str], vocab: list[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Words -> (N x (max_len + 2) token ids ``BOS c1 .. cn EOS PAD ..``, lengths n + 2)."""
    wide = any(ord(c) > 255 for w in words for c in w) or any(len(c) == 1 and ord(c) > 255 for c in vocab)
    lut = np.full(0x110000 if wide else 256, vocab.index(UNK), dtype=np.int64)
    for i, c in enumerate(vocab):
        if len(c) == 1:
            lut[ord(c)] = i
    lut[0] = vocab.index(PAD)
    words = [w[:max_len] for w in words]
    lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
    codes = np.array([w.ljust(max_len, "\0") for w in words], dtype=f"<U{max_len}")
    chars = codes.view(np.uint32).reshape(len(words), max_len).astype(np.int64) if len(words) else \
        np.zeros((0, max_len), dtype=np.int64)
    x = np.full((len(words), max_len + 2), vocab.index(PAD), dtype=np.int64)
    x[:, 0] = vocab.index(BOS)
    x[:, 1:max_len + 1] = lut[chars]
    x[np.arange(len(words)), lengths + 1] = vocab.index(EOS)
    return torch.from_numpy(x), torch.from_numpy(lengths + 2)


def decode_tokens(tokens: torch.Tensor, info: dict[str, Any]) -> list[str]:
    """Token ids -> strings: BOS is skipped, decoding stops at EOS or PAD."""
    vocab = info["vocab"]
    stop = {vocab.index(EOS), vocab.index(PAD)}
    skip = {vocab.index(BOS)}
    unk = vocab.index(UNK)
    out = []
    for row in torch.as_tensor(tokens).tolist():
        chars = []
        for t in row:
            if t in stop:
                break
            if t in skip:
                continue
            chars.append("?" if t == unk or t >= len(vocab) else vocab[t])
        out.append("".join(chars))
    return out


def split_words(words: list[str], split: str, seed: int = 0) -> list[str]:
    perm = np.random.default_rng(seed).permutation(len(words))
    n_test = max(1, int(round(TEST_FRACTION * len(words))))
    chosen = np.sort(perm[:n_test] if split == "test" else perm[n_test:])
    return [words[i] for i in chosen]


@DATASETS.register("words")
def words(path: str = "", root: str | None = None, split: str = "train", image_size: int | None = None,
          max_len: int = 16, seed: int = 0) -> TokenData:
    """Character-level words (default: Debian's American English word list)."""
    _check_split(split, "words")
    source = str(Path(path or DEFAULT_WORDS).expanduser().resolve())
    everything = read_words(source, max_len)
    chosen = split_words(everything, split, seed)
    letters = sorted({c for w in everything for c in w})
    vocab = SPECIALS + letters
    x, lengths = encode_words(chosen, vocab, max_len)
    info = {"kind": "tokens", "dataset": f"words:{path}" if path else "words", "split": split,
            "vocab": vocab, "max_len": max_len, "shape": [max_len + 2], "num_classes": 0,
            "pad": vocab.index(PAD), "bos": vocab.index(BOS), "eos": vocab.index(EOS), "unk": vocab.index(UNK),
            "source": {"loader": "words", "path": source, "max_len": max_len, "seed": seed},
            "rule": f"lines of 1..{max_len} lowercase ASCII letters a-z, duplicates removed"}
    return TokenData(info["dataset"], {"x": x, "length": lengths}, info)


def reload_source(info: dict[str, Any], split: str) -> TensorData:
    """The dataset described by `info["source"]` (as saved in a checkpoint), for another split."""
    src = dict(info.get("source") or {})
    loader = src.pop("loader", None)
    if loader is None:
        raise DataError("this model's data description has no source; pass the data explicitly")
    if loader == "words":
        path = src.pop("path")
        return words(path=path, split=split, **src)
    if loader == "csv":
        path = src.pop("path")
        return csv_series(path=path, split=split, **src)
    if loader == "sines":
        return sines(split=split, **src)
    if loader in DATASETS:  # music, text lines: the loader takes its saved options back
        if loader in ("chorales", "midi") and "transpose" not in src:  # music saved before keys and pitch classes
            src.update(transpose=False, pitch_classes=False)
        return DATASETS.get(loader)(split=split, **src)
    raise DataError(f"unknown sequence source {loader!r}")
