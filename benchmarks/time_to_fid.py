"""Time for DCGAN to reach a stated FID on Fashion-MNIST (CPU).

Trains `genlab train dcgan --data fashion-mnist` with periodic evaluation
(`--eval-every`, FID on `--eval-n` samples with the shipped Fashion-MNIST
classifier's features against the training split) and stops at the first
evaluation at or below `--target`. Reports the training time to that point
(wall time minus the time spent evaluating) and the step. Writes
benchmarks/results/time_to_fid.json.

    python benchmarks/time_to_fid.py --target 50 --eval-every 250 --max-minutes 8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

import genlab
from genlab.training.periodic_eval import PeriodicEval

HERE = Path(__file__).resolve().parent


class StopAtTarget(PeriodicEval):
    """Periodic evaluation that records when the target is first reached, then stops."""

    def __init__(self, target: float, **kw):
        super().__init__(**kw)
        self.target = target
        self.eval_seconds = 0.0
        self.history: list[dict] = []
        self.reached: dict | None = None
        self.t0 = time.perf_counter()

    def on_log(self, trainer, step, logs):
        t = time.perf_counter()
        super().on_log(trainer, step, logs)
        self.eval_seconds += time.perf_counter() - t
        fid = logs.get("eval/fid")
        if fid is None:
            return
        train_s = time.perf_counter() - self.t0 - self.eval_seconds
        self.history.append({"step": step, "fid": fid, "train_seconds": train_s})
        print(f"step {step:6d}  FID {fid:7.2f}  training time {train_s:6.1f} s", flush=True)
        if fid <= self.target and self.reached is None:
            self.reached = self.history[-1]
            trainer.should_stop = True


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", type=float, default=50.0)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--eval-n", type=int, default=2000)
    p.add_argument("--max-minutes", type=float, default=8.0)
    p.add_argument("--out", default=str(HERE / "results" / "time_to_fid.json"))
    args = p.parse_args()
    cb = StopAtTarget(args.target, every=args.eval_every, n=args.eval_n, metrics="fid", best_metric="fid")
    with tempfile.TemporaryDirectory() as tmp:
        cb.t0 = time.perf_counter()
        genlab.train("dcgan", data="fashion-mnist", out=tmp, minutes=args.max_minutes, seed=0, log_every=50,
                     sample_every=0, checkpoint_every=0, tensorboard=False, progress=False, callbacks=[cb])
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "target_fid": args.target, "eval_n": args.eval_n, "eval_every": args.eval_every,
            "command": f"python benchmarks/time_to_fid.py --target {args.target} --eval-every {args.eval_every} "
                       f"--eval-n {args.eval_n} --max-minutes {args.max_minutes}"}
    Path(args.out).write_text(json.dumps({"meta": meta, "reached": cb.reached, "history": cb.history}, indent=2) + "\n")
    print("reached:", cb.reached)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
