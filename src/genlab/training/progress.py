"""What a training run shows while it runs: a bar on a terminal, loss lines elsewhere.

On a terminal (stdout and stderr both TTYs) tqdm draws its bar on stderr with
the step, the losses, images/s and its own ETA. Anywhere else (output piped
to a log file, CI, a notebook's subprocess) a bar is either invisible or a
stream of carriage returns, so one plain line is written to stderr at every
logging step (``--log-every``) instead::

    step 150/2000 | loss_d 0.512 loss_g 1.23 | 2480 img/s | ETA 3m12s

The ETA is the remaining steps at the rate measured since training (or the
resume) started, or the time left of a ``--minutes`` budget, whichever comes
first. ``--quiet`` (``progress=False``) shows neither.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from tqdm.auto import tqdm


def on_terminal() -> bool:
    """True when both stdout and stderr are terminals (where a progress bar can be seen)."""
    return all(getattr(s, "isatty", lambda: False)() for s in (sys.stdout, sys.stderr))


def format_seconds(seconds: float) -> str:
    """'3m12s', '1h05m', '42s'."""
    s = max(0, int(round(seconds)))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def format_line(step: int, total: int | None, logs: dict[str, Any], eta: float | None) -> str:
    """One loss line: step (of total), losses, images/s, ETA."""
    head = f"step {step}/{total}" if total else f"step {step}"
    losses = " ".join(f"{k} {v:.4g}" for k, v in logs.items() if isinstance(v, float) and k != "images_per_s")
    parts = [head] + ([losses] if losses else [])
    if isinstance(logs.get("images_per_s"), float):
        parts.append(f"{logs['images_per_s']:.0f} img/s")
    if eta is not None:
        parts.append(f"ETA {format_seconds(eta)}")
    return " | ".join(parts)


class Progress:
    """The Trainer's display: `update(step, logs)` at each logging step, `close()` at the end.

    `total` is None for a wall-clock budget; `deadline` (time.monotonic) is its
    end, or None. `lines` forces the line mode (default: lines unless on a terminal).
    """

    def __init__(self, total: int | None, initial: int = 0, deadline: float | None = None,
                 lines: bool | None = None, stream: TextIO | None = None):
        self.total, self.deadline = total, deadline
        self.lines = (not on_terminal()) if lines is None else lines
        self.stream = stream
        self.start_step, self.start_time = initial, time.monotonic()
        self.bar = None
        if not self.lines:
            self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, disable=None)

    def eta(self, step: int) -> float | None:
        """Seconds left: by the measured step rate towards `total`, or to the deadline, whichever is sooner."""
        now = time.monotonic()
        options = []
        done, elapsed = step - self.start_step, now - self.start_time
        if self.total and done > 0 and elapsed > 0:
            options.append(max(0, self.total - step) * elapsed / done)
        if self.deadline is not None:
            options.append(max(0.0, self.deadline - now))
        return min(options) if options else None

    def update(self, step: int, logs: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            shown = {k: f"{v:.3g}" for k, v in logs.items() if isinstance(v, float) and k != "images_per_s"}
            if isinstance(logs.get("images_per_s"), float):
                shown["img/s"] = f"{logs['images_per_s']:.0f}"
            self.bar.set_postfix(shown, refresh=False)
            return
        stream = self.stream or sys.stderr
        print(format_line(step, self.total, logs, self.eta(step)), file=stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
