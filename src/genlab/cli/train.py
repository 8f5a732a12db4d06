"""`genlab train FAMILY [--data D] [--steps N|--epochs E|--minutes M] [--out DIR] [--resume] [--KEY VALUE ...]`.

`--config FILE` reads settings from YAML/JSON, a run's config.json included
(FAMILY may then be left out); `--print-config` prints the resolved settings
as YAML in that same layout and exits without loading data.
"""

from __future__ import annotations

import argparse
import os

from ..api import families, resolve_config, resolved_yaml, train
from ..config import describe, parse_flags
from ..registry import FAMILIES
from ..training.config import TrainConfig


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a model family",
                       description="Train a family. Any hyper-parameter or trainer setting is a --key value flag; "
                                   "`genlab train FAMILY --help` lists them.", add_help=False)
    # FAMILY is the first free word, read in run(): as an argparse positional it would take the
    # value of an option argparse does not know (`genlab train --config F --lr 0.01`).
    p.add_argument("--out", help="run folder (default runs/FAMILY-DATA-TIME)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--config", dest="config_file",
                   help="YAML/JSON file of options, or a run's config.json (flags override it)")
    p.add_argument("--print-config", action="store_true", help="print the resolved settings as YAML and exit")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar and no loss lines (off a terminal they go to stderr every --log-every steps)")
    p.add_argument("-h", "--help", action="store_true")
    p.set_defaults(handler=run, accepts_extra=True)


def print_help(family: str | None) -> None:
    print("usage: genlab train FAMILY [--data NAME] [--steps N | --epochs E | --minutes M] [--out DIR] "
          "[--resume] [--config FILE] [--print-config] [--quiet] [--KEY VALUE ...]\n")
    print(f"families: {', '.join(families())}\n")
    sections = [("trainer options", TrainConfig)]
    if family:
        sections.insert(0, (f"{family} options", FAMILIES.get(family).Config))
    for title, cls in sections:
        print(f"{title}:")
        for name, tp, default, text in describe(cls):
            print(f"  --{name.replace('_', '-'):<22} {text} [{tp}, default {default}]")
        print()


def run(args: argparse.Namespace) -> int:
    extra = list(args.extra)
    family = extra.pop(0) if extra and not extra[0].startswith("-") else None
    if args.help:
        print_help(family)
        return 0
    options = parse_flags(extra)
    if args.quiet:
        options["progress"] = False
    if args.print_config:
        print(resolved_yaml(*resolve_config(family, config_file=args.config_file, **options)), end="")
        return 0
    result = train(family, out=args.out, resume=args.resume, config_file=args.config_file, **options)
    if int(os.environ.get("RANK", 0)) != 0:  # under torchrun only rank 0 reports
        return 130 if result.interrupted else 0
    status = "interrupted" if result.interrupted else "done"
    logs = ", ".join(f"{k} {v:.4g}" for k, v in result.last_logs.items() if isinstance(v, float))
    print(f"{status}: {result.run_dir} at step {result.step}" + (f" ({logs})" if logs else ""))
    print(f"checkpoint: {result.checkpoint}")
    return 130 if result.interrupted else 0
