"""Sampling speed: images/s of `model.sample(n)` for the image families.

Each family is built from its default config for Fashion-MNIST-shaped data
(28x28 grey, 10 classes; weights untrained: speed does not depend on them)
and draws `--n` samples in batches of 500, after one warm-up call; median of
`--repeats`. Writes benchmarks/results/sample_speed.json.

    python benchmarks/sample_speed.py --n 5000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

import genlab
from genlab.registry import FAMILIES

HERE = Path(__file__).resolve().parent
INFO = {"kind": "image", "dataset": "fashion-mnist", "shape": [1, 28, 28], "num_classes": 10,
        "class_names": [str(i) for i in range(10)]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--families", default="gan,dcgan,cgan,infogan,vae,cvae")
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(HERE / "results" / "sample_speed.json"))
    args = p.parse_args()
    genlab.families()
    results = {}
    for name in args.families.split(","):
        cls = FAMILIES.get(name)
        model = cls(cls.Config(), INFO).eval()
        model.sample(500, seed=0)  # warm-up
        rates = []
        for rep in range(args.repeats):
            t0 = time.perf_counter()
            out = model.sample(args.n, seed=rep)
            rates.append(args.n / (time.perf_counter() - t0))
        assert out["images"].shape == (args.n, 1, 28, 28)
        results[name] = {"median_images_per_s": statistics.median(rates), "all": rates}
        print(f"{name:8s} {statistics.median(rates):10.0f} samples/s")
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads(), "n": args.n,
            "command": "python benchmarks/sample_speed.py " + f"--n {args.n} --repeats {args.repeats}"}
    Path(args.out).write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
