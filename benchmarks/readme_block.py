"""Replace one generated block of the README (between its start and end markers)."""

from __future__ import annotations

from pathlib import Path


def replace_block(readme: Path, start: str, end: str, body: str) -> None:
    """Write `body` between the `start` and `end` marker lines of `readme`; refuse if the markers are missing."""
    text = readme.read_text()
    if start not in text or end not in text:
        raise SystemExit(f"{readme} has no {start} ... {end} block to replace")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{body}\n{end}{tail}")
