"""`genlab info RUN`: what a run or checkpoint holds."""

from __future__ import annotations

import json
from pathlib import Path

from ..models.base import read_config
from ..models.latent_sampler import META_FILE
from ..training.checkpoint import list_checkpoints, resolve
from ..training.rundir import RunDir


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="describe a run or checkpoint")
    p.add_argument("run", help="run folder or checkpoint folder")
    p.add_argument("--json", action="store_true", help="print the config as JSON")
    p.set_defaults(handler=run)


def run(args) -> int:
    path = resolve(args.run)
    meta = read_config(path)
    if args.json:
        print(json.dumps(meta, indent=2))
        return 0
    print(f"family:      {meta['family']} (genlab {meta.get('genlab_version', '?')})")
    data = meta.get("data", {})
    print(f"data:        {data.get('dataset')} {data.get('split', '')} shape {data.get('shape')} "
          f"classes {data.get('num_classes', 0)}")
    print(f"checkpoint:  {path}")
    run_dir = Path(args.run)
    ckpts = list_checkpoints(run_dir)
    if ckpts:
        print(f"checkpoints: {', '.join(p.name for p in ckpts)}")
    print("config:      " + ", ".join(f"{k}={v}" for k, v in meta["config"].items()))
    if (path / META_FILE).is_file():  # verified by resolve
        fit = json.loads((path / META_FILE).read_text())
        per = " per class" if fit.get("classes") else ""
        print(f"sampler:     {fit.get('kind')}, {max(fit.get('components') or [0])} components{per}, fitted on "
              f"{sum(fit.get('codes') or [0]):,} training codes (genlab fit-sampler RUN refits it)")
    train = meta.get("train") or {}
    if train:
        print("train:       " + ", ".join(f"{k}={v}" for k, v in train.items() if v is not None))
    rows = RunDir(run_dir).log_rows()  # lines cut short by a kill or a full disk are skipped
    if rows:
        print("last log:    " + ", ".join(f"{k} {v:.4g}" for k, v in rows[-1].items()
                                          if isinstance(v, float) and k != "time"))
    return 0
