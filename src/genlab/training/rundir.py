"""A run folder's log, ``metrics.jsonl``: the one place that writes, trims and reads it.

One JSON object per line: training log rows (``step``, ``time``, losses,
``images_per_s``, ``eval/<metric>``), events (``"event"``: rollback, failed
save, ...) and evaluation rows (``"eval"``: what ``genlab eval`` measured).
Readers skip lines that do not parse (a line cut short by a kill or a full
disk). The Trainer, ``genlab eval``, the report, ``genlab info``, pretrained
folders and sweeps all go through `RunDir`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import GenlabError
from ..io import atomic_path

METRICS = "metrics.jsonl"


def read_jsonl(path: Path) -> tuple[list[dict[str, Any]], int]:
    """(rows that parse as JSON objects, number of lines skipped) of a JSON-lines file."""
    rows: list[dict[str, Any]] = []
    bad = 0
    if not path.is_file():
        return rows, bad
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            bad += 1
    return rows, bad


class RunDir:
    """A run folder (``runs/NAME``) and its ``metrics.jsonl``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def of(cls, path: str | Path) -> "RunDir":
        """The run folder of `path`: a run folder, or a checkpoint folder inside one."""
        path = Path(path)
        if path.parent.name == "checkpoints" and not (path / "checkpoints").is_dir():
            return cls(path.parent.parent)
        return cls(path)

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    def append(self, row: dict[str, Any]) -> None:
        """Add one row (the folder must exist)."""
        with open(self.metrics, "a") as f:
            f.write(json.dumps(row) + "\n")

    def read(self) -> tuple[list[dict[str, Any]], int]:
        """(rows, number of lines skipped)."""
        return read_jsonl(self.metrics)

    def rows(self) -> list[dict[str, Any]]:
        return self.read()[0]

    def log_rows(self) -> list[dict[str, Any]]:
        """The rows that are not events (rollbacks, failed saves)."""
        return [r for r in self.rows() if "event" not in r]

    def trim(self, step: int) -> None:
        """Drop rows written after `step` (a killed run resumed from its checkpoint at `step`);
        the file is replaced whole, so a failed write cannot cut the history short."""
        if not self.metrics.is_file():
            return
        keep = [r for r in self.rows() if isinstance(r.get("step", 0), (int, float)) and r.get("step", 0) <= step]
        try:
            with atomic_path(self.metrics) as tmp:
                tmp.write_text("".join(json.dumps(r) + "\n" for r in keep))
        except OSError as exc:
            raise GenlabError(f"cannot rewrite {self.metrics} ({exc.strerror}); free space and resume again") from None
