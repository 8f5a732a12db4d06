"""One self-contained HTML page: the primitives the run report and the sweep report share
(embedded PNGs, key-value and row tables, the page itself and where it goes)."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from .errors import GenlabError
from .io import check_writable


def img_tag(data: bytes, alt: str, cls: str = "") -> str:
    src = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return f'<img src="{src}" alt="{html.escape(alt)}"' + (f' class="{cls}"' if cls else "") + ">"


def fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(fmt(x) for x in v)
    if v is None:
        return "—"
    return str(v)


def kv_table(d: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(fmt(v))}</td></tr>" for k, v in d.items())
    return f'<table class="kv">{rows}</table>'


def table(rows: list[dict[str, Any]]) -> str:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    if "step" in cols:
        cols.remove("step")
        cols.insert(0, "step")
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(r.get(c)))}</td>" for c in cols) + "</tr>"
                   for r in rows)
    return f'<table class="grid"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1rem 1.5rem;
       color: #1d1d1f; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2rem; margin-top: 2rem; }
.muted { color: #666; }
table { border-collapse: collapse; font-size: 0.9rem; }
table.kv th { text-align: left; padding: 0.15rem 1rem 0.15rem 0; font-weight: 600; vertical-align: top; }
table.kv td { padding: 0.15rem 0; }
table.grid th, table.grid td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: right; }
table.grid th { background: #f0f0f0; }
.configs { display: flex; flex-wrap: wrap; gap: 2.5rem; }
.strip { display: flex; flex-wrap: wrap; gap: 0.8rem; }
figure { margin: 0; text-align: center; }
figure img.grid { width: 200px; image-rendering: pixelated; border: 1px solid #ddd; }
figcaption { font-size: 0.85rem; color: #555; }
img.curves { max-width: 100%; }
"""


def output_path(out: str | Path | None, folder: Path) -> Path:
    """`out` (default FOLDER/report.html), checked to be a writable .html path."""
    out = Path(out) if out is not None else folder / "report.html"
    if out.suffix.lower() not in (".html", ".htm"):
        raise GenlabError(f"--out {out} should end in .html")
    check_writable(out)
    return out


def write_page(out: Path, title: str, parts: list[str]) -> Path:
    """One self-contained HTML page of `parts` under `title`."""
    page = (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
