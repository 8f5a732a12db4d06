"""Text lines in any script: ``text:PATH``, ``fortunes`` and ``fortunes-zh``.

One line is one example, read character by character (Unicode code points
after NFC normalisation), so English, Chinese or any other script trains the
same way. Every line is cleaned: terminal escape sequences (colours) and
overstrikes (``x<BS>y``, old bold/underline) are removed, other control
characters become spaces, runs of white space become one space and the ends
are stripped. Empty lines and lines longer than ``max_len`` characters are
dropped, duplicates removed; a fixed-seed random 10% of the distinct lines is
the test split.

The character vocabulary is built from the training lines: characters seen
fewer than ``min_count`` times there map to ``<unk>`` (so rare Chinese
characters do not each get an output of their own), as do test characters
never seen in training. Batches are token data exactly as ``words:PATH``
gives (``BOS c1 .. cn EOS PAD ..``), so ``seqvae`` trains on them unchanged.

- ``text:PATH``: a UTF-8 text file, or a folder whose UTF-8 text files are
  all read (binary and non-UTF-8 files in a folder are skipped with a note).
- ``fortunes``: the English fortune cookies of Debian's ``fortunes`` package
  (``/usr/share/games/fortunes/``, every file but the Chinese ones), without
  the ``%`` lines that separate fortunes.
- ``fortunes-zh``: the Chinese ones of ``fortunes-zh`` (``chinese``,
  ``tang300``, ``song100``: sayings, Tang and Song poems).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from ..errors import DataError
from ..registry import DATASETS
from .sequences import BOS, EOS, PAD, SPECIALS, UNK, TokenData, _check_split, encode_words, split_words

FORTUNE_DIR = Path("/usr/share/games/fortunes")
ZH_FILES = ("chinese", "tang300", "song100")
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]")
OVERSTRIKE = re.compile(r".\x08")
SPACES = re.compile(r"\s+")


def clean_line(line: str) -> str:
    """A line as examples hold it: no escapes, overstrikes or control characters; NFC; single spaces."""
    line = OVERSTRIKE.sub("", ANSI.sub("", line))
    line = "".join(" " if unicodedata.category(c) == "Cc" else c for c in line)
    return SPACES.sub(" ", unicodedata.normalize("NFC", line)).strip()


def _read_text(path: Path, in_folder: bool) -> list[str] | None:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path} ({exc.strerror}); pass a readable UTF-8 text file") from None
    try:
        if b"\0" in raw[:8192]:
            raise UnicodeDecodeError("utf-8", raw, 0, 1, "binary data")
        return raw.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        if in_folder:
            return None
        raise DataError(f"{path} is not UTF-8 text; convert it (e.g. iconv -t UTF-8) or pass another file") \
            from None


def text_files(path: str | Path) -> list[Path]:
    p = Path(path).expanduser()
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file())
        if not files:
            raise DataError(f"{p} holds no files; pass text:PATH with a text file or a folder of them")
        return files
    raise DataError(f"text path {str(p)!r} not found; pass text:PATH with a UTF-8 text file, one example per line")


def read_lines(files: Iterable[Path], max_len: int, skip: tuple[str, ...] = ()) -> tuple[list[str], dict[str, int]]:
    """Distinct cleaned lines of 1..max_len characters, in file order, and counts of what was dropped."""
    files = list(files)
    seen: dict[str, None] = {}
    counts = {"lines": 0, "too_long": 0, "files_skipped": 0}
    read: set[Path] = set()
    for f in files:
        if f.resolve() in read:  # a link to a file already read (fortune's .u8 links)
            continue
        read.add(f.resolve())
        lines = _read_text(f, in_folder=len(files) > 1)
        if lines is None:
            counts["files_skipped"] += 1
            continue
        for raw in lines:
            line = clean_line(raw)
            if not line or line in skip:
                continue
            counts["lines"] += 1
            if len(line) > max_len:
                counts["too_long"] += 1
                continue
            seen.setdefault(line, None)
    if counts["files_skipped"]:
        print(f"genlab: skipped {counts['files_skipped']} file(s) that are not UTF-8 text", file=sys.stderr)
    if not seen:
        where = files[0] if len(files) == 1 else f"the {len(files)} files given"
        longer = f" ({counts['too_long']} lines are longer than --max-len {max_len})" if counts["too_long"] else ""
        raise DataError(f"{where} holds no usable lines{longer}; pass UTF-8 text with one example per line"
                        + (" or raise --max-len" if longer else ""))
    return list(seen), counts


def build_vocab(lines: Iterable[str], min_count: int) -> list[str]:
    """The special tokens, then the characters seen at least `min_count` times, by code point."""
    counts = Counter(c for line in lines for c in line)
    return SPECIALS + sorted(c for c, k in counts.items() if k >= min_count)


def line_data(name: str, files: list[Path], split: str, max_len: int, min_count: int, seed: int,
              source: dict[str, Any], skip: tuple[str, ...] = ()) -> TokenData:
    _check_split(split, name.partition(":")[0])
    if max_len < 1 or min_count < 1:
        raise DataError(f"text needs --max-len >= 1 and min_count >= 1 (got {max_len}, {min_count})")
    everything, counts = read_lines(files, max_len, skip)
    if len(everything) < 2:
        raise DataError(f"{name} holds only {len(everything)} distinct line; it needs at least 2 (train and test)")
    train = split_words(everything, "train", seed)
    vocab = build_vocab(train, min_count)
    chosen = train if split == "train" else split_words(everything, "test", seed)
    x, lengths = encode_words(chosen, vocab, max_len)
    info = {"kind": "tokens", "unit": "line", "dataset": name, "split": split, "vocab": vocab, "max_len": max_len,
            "shape": [max_len + 2], "num_classes": 0,
            "pad": vocab.index(PAD), "bos": vocab.index(BOS), "eos": vocab.index(EOS), "unk": vocab.index(UNK),
            "source": {**source, "max_len": max_len, "min_count": min_count, "seed": seed},
            "counts": {**counts, "distinct": len(everything)},
            "rule": f"cleaned non-empty lines of at most {max_len} characters, duplicates removed; characters "
                    f"seen fewer than {min_count} times in training are <unk>"}
    return TokenData(name, {"x": x, "length": lengths}, info)


@DATASETS.register("text")
def text(path: str = "", root: str | None = None, split: str = "train", image_size: int | None = None,
         max_len: int = 80, min_count: int = 2, seed: int = 0) -> TokenData:
    """Lines of a UTF-8 text file (or a folder of them), character level, any script."""
    if not path:
        raise DataError("text dataset needs a path: use text:PATH (a UTF-8 file, one example per line)")
    source = {"loader": "text", "path": str(Path(path).expanduser().resolve())}
    return line_data(f"text:{path}", text_files(path), split, max_len, min_count, seed, source)


def fortune_files(chinese: bool) -> list[Path]:
    package = "fortunes-zh" if chinese else "fortunes"
    if not FORTUNE_DIR.is_dir():
        raise DataError(f"{FORTUNE_DIR} not found; install the fortunes with `apt-get install {package}`")
    if chinese:
        files = [FORTUNE_DIR / n for n in ZH_FILES if (FORTUNE_DIR / n).is_file()]
    else:
        files = sorted(f for f in FORTUNE_DIR.iterdir() if f.is_file() and not f.is_symlink()
                       and f.suffix not in (".dat", ".u8") and f.name not in ZH_FILES)
    if not files:
        raise DataError(f"no {'Chinese ' if chinese else ''}fortunes under {FORTUNE_DIR}; "
                        f"install them with `apt-get install {package}`")
    return files


@DATASETS.register("fortunes")
def fortunes(root: str | None = None, split: str = "train", image_size: int | None = None, max_len: int = 80,
             min_count: int = 2, seed: int = 0) -> TokenData:
    """English fortune cookies (Debian's fortunes package), one line per example."""
    return line_data("fortunes", fortune_files(False), split, max_len, min_count, seed,
                     {"loader": "fortunes"}, skip=("%",))


@DATASETS.register("fortunes-zh")
def fortunes_zh(root: str | None = None, split: str = "train", image_size: int | None = None, max_len: int = 80,
                min_count: int = 2, seed: int = 0) -> TokenData:
    """Chinese sayings and Tang and Song poems (Debian's fortunes-zh package), one line per example."""
    return line_data("fortunes-zh", fortune_files(True), split, max_len, min_count, seed,
                     {"loader": "fortunes-zh"}, skip=("%",))
