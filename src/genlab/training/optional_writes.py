"""The writes a run can do without: log rows, sample grids, TensorBoard.

On a full disk (or any failed write) each kind is reported once on stderr
and training goes on; checkpoints, the one write that matters, are still
tried and report their own failures. TensorBoard writes from a thread of its
own, so its failures are caught with a thread exception hook while training
runs, instead of printing a thread traceback. Grids are written under a
temporary name and renamed, so a failure leaves no half-written PNG.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from ..io import atomic_path
from ..viz import save_grid as _save


class OptionalWrites:
    """``writes("metrics.jsonl", rundir.append, row)`` runs a write; False if it failed."""

    def __init__(self) -> None:
        self.failed: set[str] = set()

    def __call__(self, what: str, write: Callable[..., Any], *args: Any) -> bool:
        try:
            write(*args)
            return True
        except OSError as exc:
            self.report(what, exc)
            return False

    def report(self, what: str, exc: BaseException) -> None:
        if what not in self.failed:
            self.failed.add(what)
            reason = getattr(exc, "strerror", None) or str(exc)
            print(f"genlab: could not write {what} ({reason}); training goes on and checkpoints are still tried",
                  file=sys.stderr)

    @contextlib.contextmanager
    def thread_errors(self) -> Iterator[None]:
        """While active, an OSError raised in TensorBoard's writer thread is reported once."""
        previous = threading.excepthook

        def hook(args: Any) -> None:
            tb, files = args.exc_traceback, []
            while tb is not None:
                files.append(tb.tb_frame.f_code.co_filename)
                tb = tb.tb_next
            if issubclass(args.exc_type, OSError) and any("tensorboard" in f for f in files):
                self.report("TensorBoard logs", args.exc_value)
                return
            previous(args)

        threading.excepthook = hook
        try:
            yield
        finally:
            threading.excepthook = previous


def save_grid(images: torch.Tensor, path: Path) -> None:
    """A sample grid PNG, whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        _save(images, tmp)
