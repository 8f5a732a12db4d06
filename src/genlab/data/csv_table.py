"""Reading a time-series CSV into clean, ordered numeric series (used by the ``csv:PATH`` dataset).

The rules, in the order they apply (each refusal is one line naming the fix):

- The first row is the header; every other non-blank row must have as many
  fields. A column name may appear once.
- A column named date/time/timestamp/datetime/day (any case) orders the rows,
  oldest first (a stable sort, so a file out of order is read in time order)
  and is dropped. Every row needs a date there; two rows of one series with
  the same date are refused.
- A column named id/series/series_id/sequence/sequence_id (any case) splits
  the file into several series of any lengths (variable-length series, e.g.
  one per stock); each is ordered by its own dates and
  windows never cross from one series to the next. Its values may be text.
- Every other column is a feature and must be numeric. A cell that is empty
  or one of NA, N/A, NaN, null, None, -, ? (any case) is *missing*; any
  other text is refused (a column of text, such as a name, is refused as a
  whole: delete it, or name it id/series when it says which series a row
  belongs to). Infinite values are refused.
- Missing cells are filled within their series, in time order: linearly
  between the nearest observed values before and after (by row position, as
  windows treat rows as equal steps), and with the nearest observed value at
  the start or end of the series. A feature missing in more than half of its
  cells, or with no value at all in some series, is refused as too sparse.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from ..errors import DataError

DATE_NAMES = {"date", "time", "timestamp", "datetime", "day"}
GROUP_NAMES = {"id", "series", "series_id", "sequence", "sequence_id"}
MISSING = {"", "na", "n/a", "nan", "null", "none", "-", "?", "#n/a"}
MAX_MISSING = 0.5


@dataclass
class CSVTable:
    """Ordered, gap-filled series of one CSV file: each ``rows x features`` float64, oldest row first."""

    series: list[np.ndarray]
    columns: list[str]
    names: list[str]  # the group column's value for each series ("" without a group column)
    date_column: str | None = None
    group_column: str | None = None
    filled: dict[str, int] = field(default_factory=dict)  # missing cells filled, per feature


def parse_date(text: str) -> float | None:
    """Seconds since the epoch for the common date formats (or a plain number); None if not a date."""
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, fmt).timestamp()
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _read_rows(p: Path) -> tuple[list[str], list[list[str]], list[int]]:
    if not p.is_file():
        raise DataError(f"CSV file {str(p)!r} not found; pass csv:PATH with a CSV file that has a header row")
    try:
        with open(p, newline="", encoding="utf-8-sig") as f:
            numbered = [(i, r) for i, r in enumerate(csv.reader(f), start=1) if any(cell.strip() for cell in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {p}: {exc}; pass a UTF-8 text CSV file") from None
    if len(numbered) < 2:
        raise DataError(f"{p} has no data rows; it needs a header row and one row per time step")
    header = [h.strip() for h in numbered[0][1]]
    seen: set[str] = set()
    for h in header:
        if h in seen:
            raise DataError(f"column {h!r} appears twice in the header of {p}; give each column its own name")
        seen.add(h)
    body, lines = [r for _, r in numbered[1:]], [i for i, _ in numbered[1:]]
    for line, r in zip(lines, body):
        if len(r) != len(header):
            raise DataError(f"{p} line {line} has {len(r)} fields but the header has {len(header)}; fix the file")
    return header, body, lines


def _find(header: list[str], names: set[str]) -> int | None:
    return next((j for j, h in enumerate(header) if h.lower() in names), None)


def _numeric_column(p: Path, name: str, cells: list[str], lines: list[int]) -> np.ndarray:
    out = np.empty(len(cells), dtype=np.float64)
    bad: tuple[int, str] | None = None
    numbers = 0
    for i, raw in enumerate(cells):
        cell = raw.strip()
        if cell.lower() in MISSING:
            out[i] = math.nan
            continue
        try:
            v = float(cell)
        except ValueError:
            bad = bad or (lines[i], cell)
            continue
        if not math.isfinite(v):
            raise DataError(f"column {name!r} of {p} holds {cell!r} (line {lines[i]}); replace it by a finite "
                            f"number or leave the cell empty to have it filled")
        out[i] = v
        numbers += 1
    if bad is not None and numbers == 0:
        raise DataError(f"column {name!r} of {p} is not numeric: it holds text (line {bad[0]}: {bad[1]!r}); delete "
                        f"the column, or name it 'id' or 'series' if it says which series each row belongs to")
    if bad is not None:
        raise DataError(f"column {name!r} of {p} is not numeric (line {bad[0]}: {bad[1]!r}); fix the value, or "
                        f"leave the cell empty (or NA) to have it filled")
    return out


def fill_gaps(values: np.ndarray) -> np.ndarray:
    """Fill NaNs of each column: linear between observed neighbours, nearest value at the ends."""
    out = values.copy()
    pos = np.arange(len(out))
    for j in range(out.shape[1]):
        col = out[:, j]
        seen = ~np.isnan(col)
        if not seen.all() and seen.any():
            col[~seen] = np.interp(pos[~seen], pos[seen], col[seen])
    return out


def read_csv_table(path: str | Path) -> CSVTable:
    """Read, order, split by series and gap-fill a time-series CSV (see the module's rules)."""
    p = Path(path).expanduser()
    header, body, lines = _read_rows(p)
    date_col, group_col = _find(header, DATE_NAMES), _find(header, GROUP_NAMES)
    features = [j for j in range(len(header)) if j not in (date_col, group_col)]
    if not features:
        used = [header[j] for j in (date_col, group_col) if j is not None]
        raise DataError(f"{p} has no feature columns besides {', '.join(map(repr, used))}; add numeric columns")
    values = np.stack([_numeric_column(p, header[j], [r[j] for r in body], lines) for j in features], 1)

    groups = [r[group_col].strip() for r in body] if group_col is not None else [""] * len(body)
    if group_col is not None and "" in groups:
        line = lines[groups.index("")]
        raise DataError(f"column {header[group_col]!r} of {p} is empty on line {line}; say which series the row "
                        f"belongs to")
    names = list(dict.fromkeys(groups))
    stamps = None
    if date_col is not None:
        stamps = np.empty(len(body))
        for i, r in enumerate(body):
            s = parse_date(r[date_col])
            if s is None:
                raise DataError(f"column {header[date_col]!r} of {p} holds {r[date_col]!r} (line {lines[i]}), not a "
                                f"date; use YYYY-MM-DD dates or rename the column")
            stamps[i] = s
    columns = [header[j] for j in features]
    missing = np.isnan(values).sum(0)
    for k, name in enumerate(columns):
        if missing[k] > MAX_MISSING * len(body):
            raise DataError(f"column {name!r} of {p} is missing in {missing[k]} of {len(body)} rows, too sparse to "
                            f"fill (at most half may be missing); delete the column or fill it in")
    series = []
    index = {name: i for i, name in enumerate(names)}
    members: list[list[int]] = [[] for _ in names]
    for i, g in enumerate(groups):
        members[index[g]].append(i)
    for name, rows in zip(names, members):
        rows_arr = np.asarray(rows)
        if stamps is not None:
            rows_arr = rows_arr[np.argsort(stamps[rows_arr], kind="stable")]
            same = np.flatnonzero(np.diff(stamps[rows_arr]) == 0)
            if len(same):
                a, b = rows_arr[same[0]], rows_arr[same[0] + 1]
                where = f" of series {name!r}" if group_col is not None else ""
                raise DataError(f"{p} has two rows{where} dated {body[a][date_col].strip()!r} (lines {lines[a]} "
                                f"and {lines[b]}); keep one row per date")
        part = values[rows_arr]
        empty = np.isnan(part).all(0)
        if empty.any():
            where = f" in series {name!r}" if group_col is not None else ""
            raise DataError(f"column {columns[int(np.argmax(empty))]!r} of {p} has no value{where}; give it at "
                            f"least one value or delete the column")
        series.append(fill_gaps(part))
    filled = {name: int(m) for name, m in zip(columns, missing) if m}
    return CSVTable(series, columns, names, header[date_col] if date_col is not None else None,
                    header[group_col] if group_col is not None else None, filled)
