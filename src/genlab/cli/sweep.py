"""`genlab sweep FAMILY --data D --trials N --budget "--steps 400" [...] [--KEY VALUE ...]`
and `genlab sweep --show SWEEP_DIR`: hyper-parameter search on Optuna."""

from __future__ import annotations

import argparse

from ..config import parse_flags
from ..errors import GenlabError
from ..sweep import format_table, open_sweep, sweep


def add_parser(sub) -> None:
    p = sub.add_parser(
        "sweep", allow_abbrev=False, help="search hyper-parameters with Optuna (which settings work, which matter)",
        description="Search a family's hyper-parameters: TPE sampling, pruning from the periodic evaluation, "
                    "every trial a run folder under SWEEP_DIR/trials. Run the same command again to continue "
                    "a stopped sweep. Extra --KEY VALUE flags fix an option for every trial.")
    p.add_argument("family", nargs="?", help="model family (genlab list)")
    p.add_argument("--data", default="fashion-mnist", help="dataset (default fashion-mnist)")
    p.add_argument("--trials", type=int, default=20, help="trials in the study, all workers together (default 20)")
    p.add_argument("--budget", default=None, help='trainer flags of each trial, e.g. "--steps 400" or "--minutes 3"')
    p.add_argument("--metric", default="fid", help="metric to optimise: fid, kid, precision, ... or a held-out "
                                                    "metric of the family such as nll_iwae (default fid)")
    p.add_argument("--direction", choices=("minimize", "maximize"), help="for metrics genlab does not know")
    p.add_argument("--space", help="YAML file of ranges/choices overriding the family's default space")
    p.add_argument("--no-default-space", dest="default_space", action="store_false",
                   help="search only what --space names")
    p.add_argument("--storage", help="SQLAlchemy URL of the study (default: SQLite in the sweep folder), "
                                     "e.g. postgresql://user@host/db to share it between machines")
    p.add_argument("--study", help="study name (default: the sweep folder's name)")
    p.add_argument("--out", help="sweep folder (default sweeps/STUDY or sweeps/FAMILY-DATA)")
    p.add_argument("--workers", type=int, default=1, help="worker processes on this machine (default 1)")
    p.add_argument("--pruner", default="median", help="median, hyperband or none (default median)")
    p.add_argument("--evals", type=int, default=4, help="evaluations per trial of a --steps budget (default 4)")
    p.add_argument("--eval-every", type=int, help="steps between evaluations (default: budget / --evals)")
    p.add_argument("--eval-n", type=int, default=2000, help="samples per evaluation (default 2000)")
    p.add_argument("--extractor", default="auto", help="feature extractor of sample metrics (default: the "
                                                        "dataset's shipped classifier)")
    p.add_argument("--sampler-seed", type=int, default=0, help="seed of the TPE sampler (default 0)")
    p.add_argument("--show", metavar="SWEEP_DIR", help="print the top trials of a sweep and exit")
    p.add_argument("--top", type=int, default=10, help="rows of --show (default 10)")
    p.set_defaults(handler=run, accepts_extra=True)


def run(args: argparse.Namespace) -> int:
    if args.show:
        if args.family or args.extra:
            raise GenlabError("--show takes only a sweep folder: genlab sweep --show SWEEP_DIR [--top N]")
        print(format_table(open_sweep(args.show, args.storage), top=max(1, args.top)))
        return 0
    if not args.family:
        raise GenlabError('no family given; usage: genlab sweep FAMILY --data D --trials N --budget "--steps 400"')
    if args.budget is None:
        raise GenlabError('no --budget given; say what each trial trains, e.g. --budget "--steps 400"')
    fixed = parse_flags(args.extra)
    result = sweep(args.family, args.data, trials=args.trials, budget=args.budget, metric=args.metric,
                   direction=args.direction, space=args.space, default_space=args.default_space,
                   storage=args.storage, study=args.study, out=args.out, workers=args.workers,
                   pruner=args.pruner, evals=args.evals, eval_every=args.eval_every, eval_n=args.eval_n,
                   extractor=args.extractor, seed=args.sampler_seed, **fixed)
    print(format_table(open_sweep(result.sweep_dir, args.storage), top=max(1, args.top)))
    if result.best_config:
        print(f"best config: {result.best_config} (genlab train {args.family} --config {result.best_config})")
    if result.plots:
        print(f"plots: {', '.join(str(p) for p in result.plots.values())}")
    if result.interrupted:
        print(f"interrupted; run the same command again to continue {result.sweep_dir}")
        return 130
    return 0
