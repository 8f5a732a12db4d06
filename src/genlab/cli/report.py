"""`genlab report RUN [--out report.html]`: a self-contained HTML training report."""

from __future__ import annotations

from ..errors import GenlabError
from ..report import build_report


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="write an HTML report of a run (config, curves, samples, evaluation)",
                       description="One self-contained HTML page: configuration, loss and metric curves, "
                                   "sample grids over training and the evaluation table.")
    p.add_argument("run", help="run folder, or a sweep folder (genlab sweep)")
    p.add_argument("--out", default=None, help="output .html file (default RUN/report.html)")
    p.add_argument("--max-grids", type=int, default=12, help="sample grids shown per kind (evenly spaced)")
    p.set_defaults(handler=run)


def run(args) -> int:
    if args.max_grids < 1:
        raise GenlabError(f"--max-grids must be at least 1 (got {args.max_grids})")
    out = build_report(args.run, args.out, max_grids=args.max_grids)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")
    return 0
