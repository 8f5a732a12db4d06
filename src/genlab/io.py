"""Files in and out: writing samples (a PNG grid, a folder of PNGs, an .npz
archive, CSV, text, or MIDI/WAV through the song writer genlab.data.audio registers) and reading one image (`open_image`, `read_image`: the
one reader the image datasets, `genlab translate` and the web page share).

The .npz holds ``images`` as uint8 N x H x W (grey) or N x H x W x C
(colour) and, for conditional families, ``labels``; other arrays a family
returns (sequences, ...) are written under their own names.

`write_samples` draws and writes in chunks, so memory stays flat however many
samples are asked for: an .npz goes through `NpzStream` (the same format as
``numpy.savez_compressed``, written entry by entry), a folder file by file.
Every output appears whole or not at all: files are written under a hidden
temporary name and renamed into place, and a failed write (a full disk)
removes what it wrote and says so in one line.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import shutil
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .capabilities import TextDecoder
from .errors import DataError, GenlabError
from .viz import save_grid

#: samples drawn and written at a time (the first chunk uses the seed itself, so up to
#: this many samples are exactly ``model.sample(n, seed=seed)``)
SAMPLE_CHUNK = 1000
#: the most images one PNG grid may hold (larger sets go to an .npz or a folder)
MAX_GRID = 4096
GRID_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Pillow modes of one-channel images (8-bit, 16-bit, 32-bit integer and float grey)
GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
#: what Pillow raises on a file it cannot decode
UNREADABLE = (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError)


@dataclass
class Written:
    """Where samples went and the shape of each array written."""

    path: Path
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """N x C x H x W floats in [0, 1] -> uint8 N x H x W [x C]."""
    arr = (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu()
    arr = arr.permute(0, 2, 3, 1).numpy()
    return arr[..., 0] if arr.shape[-1] == 1 else arr


def check_writable(out: Path, folder: bool | None = None) -> None:
    """Fail early, in one line, when `out` cannot be written: a folder where a file
    goes, a file where a folder goes, or no writable folder to put it in. `folder`
    defaults to "no suffix"."""
    out = Path(out)
    folder = out.suffix == "" if folder is None else folder
    if folder and out.exists() and not out.is_dir():
        raise GenlabError(f"cannot write to {out}: it is a file, not a folder; choose another --out")
    if not folder and out.is_dir():
        raise GenlabError(f"cannot write to {out}: it is a folder; give a file name, e.g. {out / ('out' + out.suffix)}")
    probe = out if out.is_dir() else out.parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        raise GenlabError(f"cannot write to {out}: {probe} is not a writable folder; choose another --out")


def _temporary(out: Path, tag: str = "") -> Path:
    return out.with_name(f".{out.stem}.tmp-{os.getpid()}{tag}{out.suffix}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


@contextlib.contextmanager
def atomic_path(out: Path) -> Iterator[Path]:
    """Yield a hidden temporary path beside `out`; rename it to `out` on success,
    remove it on any failure."""
    tmp = _temporary(out)
    try:
        yield tmp
        os.replace(tmp, out)
    except BaseException:
        _remove(tmp)
        raise


def chunk_seed(seed: int | None, index: int) -> int | None:
    """The seed of chunk `index`: the seed itself for the first, then derived ones."""
    if seed is None or index == 0:
        return seed
    state = np.random.SeedSequence([int(seed), index]).generate_state(2, np.uint32)
    return (int(state[0]) << 31 | int(state[1]) >> 1) & (2**63 - 1)


def draw_chunks(model: Any, n: int, seed: int | None = 0, labels: Any = None,
                chunk: int = SAMPLE_CHUNK) -> Iterator[dict[str, Any]]:
    """`model.sample` in chunks of at most `chunk`; per-sample labels are sliced along."""
    per_sample = labels is not None and torch.as_tensor(labels).dim() >= 1 and len(labels) == n
    for index, start in enumerate(range(0, n, chunk)):
        k = min(chunk, n - start)
        part = labels[start:start + k] if per_sample else labels
        yield model.sample(k, seed=chunk_seed(seed, index), labels=part)


def _arrays(samples: dict[str, Any]) -> dict[str, np.ndarray]:
    out = {}
    for k, v in samples.items():
        if k == "images":
            out[k] = to_uint8(v)
        elif isinstance(v, torch.Tensor):
            out[k] = v.detach().cpu().numpy()
        else:
            out[k] = np.asarray(v)
    return out


class NpzStream:
    """An .npz archive written chunk by chunk (numpy's format: a zip of .npy files,
    deflated like ``savez_compressed``). The first array is streamed straight into
    the archive; the others are spooled to .npy files beside it and appended at the
    end. Text arrays (rare, small) are kept in memory. `n` rows are expected in all."""

    def __init__(self, out: Path, n: int):
        self.out, self.n = Path(out), n
        self.tmp = _temporary(self.out)
        self.parts = _temporary(self.out, "-parts")
        self.specs: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
        self.handles: dict[str, Any] = {}
        self.texts: dict[str, list[np.ndarray]] = {}
        self.rows = 0
        self.file = None
        self.zip: zipfile.ZipFile | None = None

    def _header(self, handle: Any, key: str) -> None:
        item, dtype = self.specs[key]
        np.lib.format.write_array_header_1_0(handle, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                      "fortran_order": False, "shape": (self.n, *item)})

    def _start(self, arrays: dict[str, np.ndarray]) -> None:
        self.file = open(self.tmp, "wb")
        self.zip = zipfile.ZipFile(self.file, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        keys = sorted(arrays, key=lambda k: (k != "images", list(arrays).index(k)))
        for key in keys:
            a = arrays[key]
            if a.dtype.kind in "OUS" or a.ndim == 0:
                self.texts[key] = []
                continue
            self.specs[key] = (a.shape[1:], a.dtype)
            if not self.handles:  # the first array goes straight into the archive
                self.handles[key] = self.zip.open(f"{key}.npy", "w", force_zip64=True)
            else:
                self.parts.mkdir(exist_ok=True)
                self.handles[key] = open(self.parts / f"{key}.npy", "wb")
            self._header(self.handles[key], key)

    def add(self, arrays: dict[str, np.ndarray]) -> None:
        if self.zip is None:
            self._start(arrays)
        if set(arrays) != set(self.specs) | set(self.texts):
            raise GenlabError(f"samples changed their arrays between chunks ({', '.join(sorted(arrays))})")
        rows = {len(a) for a in arrays.values() if a.ndim}
        for key, a in arrays.items():
            if key in self.texts:
                self.texts[key].append(a)
                continue
            item, dtype = self.specs[key]
            if a.shape[1:] != item or a.dtype != dtype:
                raise GenlabError(f"samples changed shape between chunks ({key}: {a.shape[1:]} vs {item})")
            self.handles[key].write(np.ascontiguousarray(a).tobytes())
        self.rows += max(rows) if rows else 0

    def close(self) -> Path:
        if self.zip is None:
            raise GenlabError("no samples were written")
        if self.rows != self.n:
            raise GenlabError(f"wrote {self.rows} samples where {self.n} were asked for")
        for key, handle in list(self.handles.items()):
            handle.close()
            if handle is not None and key in self.specs and (self.parts / f"{key}.npy").is_file():
                with open(self.parts / f"{key}.npy", "rb") as src, \
                        self.zip.open(f"{key}.npy", "w", force_zip64=True) as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        self.handles = {}
        for key, parts in self.texts.items():
            with self.zip.open(f"{key}.npy", "w", force_zip64=True) as dst:
                np.lib.format.write_array(dst, np.concatenate(parts) if parts[0].ndim else parts[0],
                                          allow_pickle=False)
        self.zip.close()
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.tmp, self.out)
        _remove(self.parts)
        return self.out

    def abort(self) -> None:
        for handle in self.handles.values():
            with contextlib.suppress(Exception):
                handle.close()
        if self.zip is not None:
            with contextlib.suppress(Exception):
                self.zip.close()
        if self.file is not None:
            with contextlib.suppress(Exception):
                self.file.close()
        _remove(self.tmp)
        _remove(self.parts)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = {k: (self.n, *item) for k, (item, _) in self.specs.items()}
        shapes.update({k: (self.n,) for k in self.texts})
        return shapes


def _write_npz(chunks: Iterable[dict[str, Any]], n: int, out: Path) -> Written:
    stream = NpzStream(out, n)
    try:
        for samples in chunks:
            stream.add(_arrays(samples))
        path = stream.close()
    except BaseException:
        stream.abort()
        raise
    return Written(path, stream.shapes())


def _write_folder(chunks: Iterable[dict[str, Any]], n: int, out: Path) -> Written:
    created = not out.exists()
    written: list[Path] = []
    width = max(6, len(str(n - 1)))
    shape: tuple[int, ...] = ()
    try:
        out.mkdir(parents=True, exist_ok=True)
        i = 0
        for samples in chunks:
            if samples.get("images") is None:
                raise _not_images(samples, out)
            arr = to_uint8(samples["images"])
            shape = arr.shape[1:]
            labels = samples.get("labels")
            for j, a in enumerate(arr):
                name = f"{i:0{width}d}" + (f"_class{int(labels[j])}" if labels is not None else "") + ".png"
                path = out / name
                written.append(path)
                Image.fromarray(a).save(path)
                i += 1
    except BaseException:
        for path in written:
            _remove(path)
        if created:
            _remove(out)
        raise
    return Written(out, {"images": (n, *shape)})


def _collect(chunks: Iterable[dict[str, Any]]) -> dict[str, Any]:
    parts: dict[str, list[Any]] = {}
    for samples in chunks:
        for k, v in samples.items():
            parts.setdefault(k, []).append(v)
    out: dict[str, Any] = {}
    for k, vs in parts.items():
        if isinstance(vs[0], torch.Tensor) and vs[0].dim() > 0:
            out[k] = torch.cat(vs)
        elif isinstance(vs[0], (list, tuple)):
            out[k] = [x for v in vs for x in v]
        else:
            out[k] = vs[0]
    return out


def _not_images(samples: dict[str, Any], out: Path) -> GenlabError:
    other = "samples.csv" if "sequences" in samples else "words.txt" if "tokens" in samples else "samples.npz"
    return GenlabError(f"this model's samples are not images; write them to {other} or a .npz file instead of {out}")


#: note events written as MIDI or rendered audio by the registered song writer (genlab.data.audio)
MUSIC_SUFFIXES = (".mid", ".midi", ".wav")
_song_writers: list[Callable[..., Any]] = []


def register_song_writer(fn: Callable[..., Any]) -> None:
    """`fn(samples, path, suffix, data_info)` writes sampled note events as MIDI or WAV (one writer: the last)."""
    _song_writers[:] = [fn]


def check_suffix(out: Path) -> str:
    suffix = out.suffix.lower()
    if suffix not in ("", ".npz", ".csv", ".txt", *GRID_SUFFIXES, *MUSIC_SUFFIXES):
        raise GenlabError(f"unknown output type {suffix!r}; use grid.png, samples.npz or a folder/ "
                          f"(samples.csv / words.txt for sequence families, song.mid / song.wav for music)")
    return suffix


def _write(chunks: Iterator[dict[str, Any]], n: int, out: Path, model: Any = None) -> Written:
    suffix = check_suffix(out)
    check_writable(out)
    if suffix in GRID_SUFFIXES and n > MAX_GRID:
        raise GenlabError(f"a grid of {n} images is too large (at most {MAX_GRID}); write them to "
                          f"samples.npz or a folder/ instead of {out}")
    try:
        if suffix == ".npz":
            out.parent.mkdir(parents=True, exist_ok=True)
            return _write_npz(chunks, n, out)
        if suffix == "":
            return _write_folder(chunks, n, out)
        samples = _collect(chunks)
        shapes = {k: tuple(v.shape) for k, v in samples.items() if isinstance(v, torch.Tensor)}
        out.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".csv" and "sequences" in samples:
            columns = model.data_info.get("columns") if model is not None else None
            with atomic_path(out) as tmp:
                save_sequences_csv(samples, tmp, columns)
            return Written(out, shapes)
        if suffix in MUSIC_SUFFIXES:  # note events as MIDI or rendered audio
            if not _song_writers:
                raise GenlabError(f"no song writer is loaded to write {suffix} files; import genlab.data first")
            with atomic_path(out) as tmp:
                _song_writers[0](samples, tmp, suffix, model.data_info if model is not None else None)
            return Written(out, shapes)
        if suffix == ".txt" and "tokens" in samples:
            if not isinstance(model, TextDecoder):
                raise GenlabError("writing text needs the model that made the tokens; "
                                  "use genlab sample RUN --out words.txt")
            with atomic_path(out) as tmp:
                save_text(model.decode_text(samples["tokens"]), tmp)
            return Written(out, shapes)
        if samples.get("images") is None:
            raise _not_images(samples, out)
        if suffix not in GRID_SUFFIXES:
            raise GenlabError(f"unknown output type {suffix!r} for images; use grid.png, samples.npz or a folder/")
        with atomic_path(out) as tmp:
            save_grid(samples["images"], tmp)
        return Written(out, shapes)
    except OSError as exc:
        raise GenlabError(f"could not write {out} ({exc.strerror or exc}); nothing was written, "
                          f"free space or choose another --out") from None


def write_samples(model: Any, n: int, out: str | Path, *, seed: int | None = 0, labels: Any = None,
                  chunk: int = SAMPLE_CHUNK) -> Written:
    """Draw `n` samples from `model` in chunks and write them to `out` by its suffix:
    .npz, .png/.jpg grid, a folder of PNGs, .csv (sequence families) or .txt (token
    families). Memory stays flat in `n` for .npz and folders."""
    return _write(draw_chunks(model, n, seed, labels, chunk), n, Path(out), model)


def save_samples(samples: dict[str, torch.Tensor], out: str | Path, model: Any = None) -> Path:
    """Write samples already in memory by the suffix of `out` (see `write_samples`)."""
    first = next((v for v in samples.values() if isinstance(v, torch.Tensor) and v.dim() > 0), None)
    n = int(first.shape[0]) if first is not None else len(next(iter(samples.values()), []))
    return _write(iter([samples]), n, Path(out), model).path


# -- reading images ---------------------------------------------------------------------------
class ImageTooLarge(DataError):
    """An image whose header claims more pixels than may be decoded."""


def max_pixels() -> int:
    """Pixels one image may have: Pillow's decompression-bomb limit (about 89 MP)."""
    return int(Image.MAX_IMAGE_PIXELS or 89_478_485)


def open_image(source: Any, name: str):
    """Open an image reading its header only; an image over `max_pixels` is refused
    with `ImageTooLarge` (one line) before anything is decoded."""
    limit = max_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(source)
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        claimed = f"{int(found.group(1)) / 1e6:.0f} MP" if found else "too many pixels"
        raise ImageTooLarge(f"{name} claims {claimed}, over the {limit / 1e6:.0f} MP limit for one image "
                            f"(a decompression bomb?); shrink it") from None
    w, h = im.size
    if w * h > limit:
        im.close()
        raise ImageTooLarge(f"{name} is {w}x{h} pixels ({w * h / 1e6:.0f} MP), over the {limit / 1e6:.0f} MP "
                            f"limit for one image; shrink it")
    return im


def to_8bit(im):
    """A 16-bit, 32-bit or float grey image as 8-bit "L", scaled (Pillow's own
    conversion clips 16-bit values at 255); other images unchanged."""
    if im.mode not in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        return im
    a = np.asarray(im)
    if im.mode == "F":
        a = np.nan_to_num(a.astype(np.float64), nan=0.0)
        a = a * 255 if a.max(initial=0) <= 1.0 else a
    elif im.mode.startswith("I;16") or a.max(initial=0) > 255:
        a = a.astype(np.float64).clip(0, 65535) / 257
    return Image.fromarray(a.clip(0, 255).round().astype(np.uint8), "L")


def _palette_is_grey(im) -> bool:
    r, g, b = im.convert("RGB").split()
    return r.tobytes() == g.tobytes() == b.tobytes()


def is_grey(im) -> bool:
    """Whether a Pillow image holds one channel (or a palette of greys)."""
    return im.mode in GREY_MODES or (im.mode == "P" and _palette_is_grey(im))


def read_pil(source: Any, name: str, grey: bool | None = None):
    """An image file (a path or a file object) decoded as 8-bit "L" or "RGB" (`grey`
    None: as the file holds it). A file Pillow cannot read raises `GenlabError` naming it."""
    try:
        with open_image(source, name) as im:
            im.load()
            grey = is_grey(im) if grey is None else grey
            return to_8bit(im).convert("L" if grey else "RGB")
    except UNREADABLE:
        raise GenlabError(f"cannot read {name} as an image; pass PNG/JPEG/... image files") from None


def read_image(source: Any, name: str | None = None, *, channels: int | None = None,
               size: tuple[int, int] | None = None) -> torch.Tensor:
    """An image as a 1 x C x H x W float tensor in [0, 1]: C = 1 or 3 as the file holds
    it unless `channels` is given, resized (bicubic) to `size` = (H, W) when given."""
    name = name or repr(str(source))
    im = read_pil(source, name, None if channels is None else channels == 1)
    if size is not None and im.size != (size[1], size[0]):
        im = im.resize((size[1], size[0]), Image.BICUBIC)
    a = np.asarray(im, dtype=np.uint8)
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return torch.from_numpy(a.copy()).float().div(255).unsqueeze(0)


# -- sequences and text -----------------------------------------------------------------------
def save_sequences_csv(samples: dict[str, Any] | torch.Tensor, path: str | Path,
                       columns: Sequence[str] | None = None) -> Path:
    """Long-format CSV: sample, step, one column per feature (, label)."""
    seqs = samples["sequences"] if isinstance(samples, dict) else samples
    labels = samples.get("labels") if isinstance(samples, dict) else None
    seqs = torch.as_tensor(seqs).detach().cpu()
    if seqs.dim() != 3:
        raise GenlabError(f"expected N x T x D sequences to write as CSV (got shape {tuple(seqs.shape)})")
    cols = list(columns or [f"feature{i}" for i in range(seqs.shape[2])])
    if len(cols) != seqs.shape[2]:
        raise GenlabError(f"{len(cols)} column names for {seqs.shape[2]} features; give one name per feature")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sample", "step", *cols] + (["label"] if labels is not None else []))
        arr = seqs.double().numpy()
        for i in range(arr.shape[0]):
            extra = [int(labels[i])] if labels is not None else []
            for t in range(arr.shape[1]):
                w.writerow([i, t, *(f"{v:.6g}" for v in arr[i, t])] + extra)
    return path


def save_text(source: Any, path: str | Path, *, n: int = 100, seed: int = 0) -> Path:
    """One word per line, from a token model (sampled), its samples dict, or a list of strings."""
    if isinstance(source, (list, tuple)):
        words = [str(s) for s in source]
    elif isinstance(source, dict):
        raise GenlabError("save_text needs the model to decode tokens: pass the model, or model.decode_text(tokens)")
    elif isinstance(source, TextDecoder):
        words = source.decode_text(source.sample(n, seed=seed)["tokens"])
    else:
        raise GenlabError(f"cannot write {type(source).__name__} as text; pass a word model or a list of strings")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(w + "\n" for w in words))
    return path
