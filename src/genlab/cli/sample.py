"""`genlab sample RUN --n N --out grid.png|folder/|file.npz|song.mid|song.wav [--seed S] [--class K]
[--sampler prior|gmm]`.

Samples are drawn and written in chunks (memory flat in N for .npz and folders)."""

from __future__ import annotations

import sys

from ..api import check_seed, load, sample
from ..samplers import choose_sampler


def add_parser(sub) -> None:
    p = sub.add_parser("sample", help="draw samples from a trained model")
    p.add_argument("run", help="run folder or checkpoint folder")
    p.add_argument("--n", type=int, default=64, help="number of samples")
    p.add_argument("--out", default=None, help="grid.png, samples.npz or folder/; samples.csv or words.txt for "
                                               "sequence families; song.mid or song.wav for music "
                                               "(default: samples.png, .csv or .txt by family)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--class", dest="label", type=int, default=None, help="class to sample (conditional families)")
    p.add_argument("--sampler", default=None,
                   help="vae, cvae: draw z from the prior N(0, I) or gmm, the mixture fitted on the training codes "
                        "(default: the run's sampler option, gmm)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(handler=run)


def run(args) -> int:
    check_seed(args.seed)
    model = load(args.run, device=args.device)
    note = choose_sampler(model, args.sampler, args.run)
    if note:
        print(f"genlab: note: {note}", file=sys.stderr)
    if args.out is None:
        kind = model.data_info.get("kind", "image")
        args.out = {"sequence": "samples.csv", "tokens": "words.txt"}.get(kind, "samples.png")
    written = sample(model, args.n, seed=args.seed, labels=args.label, out=args.out)
    shapes = ", ".join(f"{k} {shape}" for k, shape in written.shapes.items())
    print(f"wrote {written.path} ({shapes})")
    return 0
