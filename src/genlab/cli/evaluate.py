"""`genlab eval RUN-or-SAMPLES [--metrics fid,kid,pr] [--n N] [--ref DATASET] [--sampler prior|gmm]`.

Evaluates a run or checkpoint (it samples the model), or samples from any
tool (.npz or folder of PNGs), prints a table and appends the JSON to the
run's metrics.jsonl. `genlab eval --ref DATASET` prints the real-vs-real floor
(the test split scored against the train split). `--ref` takes any dataset
spec (`digits`, `mnist:test`, `folder:PATH`, `folder:PATH:test`). When the
feature metrics fail (say, --extractor inception without its weights), the
family's own metrics are still printed, then the reason, with exit code 2.
"""

from __future__ import annotations

import json
import sys

from ..errors import GenlabError
from ..evaluation import evaluate_run, format_table


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a run, a checkpoint or a set of samples")
    p.add_argument("target", nargs="?", help="run folder, checkpoint folder, samples .npz or image folder")
    p.add_argument("--metrics", default=None,
                   help="comma-separated: fid, kid, pr, dc, is, class_coverage, accuracy (default fid,kid,pr"
                        " [+ accuracy for conditional models])")
    p.add_argument("--n", type=int, default=10000, help="number of samples")
    p.add_argument("--ref", default=None,
                   help="reference dataset[:split], any spec such as digits or folder:PATH (default: the run's "
                        "training data)")
    p.add_argument("--extractor", default="auto",
                   help="auto (shipped classifier for (fashion-)mnist, else one trained on the reference on first "
                        "use), inception, or module:callable")
    p.add_argument("--split", default="test", help="held-out split for family metrics and the floor")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-root", default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-family-metrics", action="store_true", help="skip the family's own held-out metrics")
    p.add_argument("--no-memorisation", action="store_true",
                   help="skip the memorisation check (samples' nearest training images vs the test split's)")
    p.add_argument("--pairs-out", default=None, metavar="PNG",
                   help="where the 8 closest sample/training pairs go (default RUN/eval/closest-train-pairs-stepN.png, "
                        "or beside a samples file)")
    p.add_argument("--sampler", default=None,
                   help="vae, cvae: draw z from prior or gmm (default: the run's sampler option); the row "
                        "records which")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=run)


def run(args) -> int:
    if args.n < 1:
        raise GenlabError(f"--n must be at least 1 (got {args.n})")
    row = evaluate_run(args.target, metrics=args.metrics, n=args.n, reference=args.ref, extractor=args.extractor,
                       seed=args.seed, split=args.split, family_metrics=not args.no_family_metrics,
                       data_root=args.data_root, device=args.device, memorisation=not args.no_memorisation,
                       pairs_out=args.pairs_out, sampler=args.sampler)
    print(json.dumps(row) if args.json else format_table(row))
    if row.get("skipped"):
        print(f"genlab: error: sample metrics skipped: {row['skipped']}", file=sys.stderr)
        return GenlabError.exit_code
    return 0
