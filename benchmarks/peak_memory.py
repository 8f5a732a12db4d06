"""Peak memory of a training run: images held as uint8 (converted per batch) vs as float32.

Each measurement is a fresh process that trains a DCGAN for a few steps on a
dataset through `genlab.train` and reports its peak resident set size
(``ru_maxrss``). ``children_peak_rss`` is the largest forked child's (decoding
workers, and ``ldconfig`` that ctypes runs); a forked child's RSS counts the
pages it shares with the parent at the fork, so it is not memory of its own. Two source
trees are compared: ``--before-src`` (genlab before the change, e.g. the
``src/`` of the commit it branched from: ``git archive ae6c822 src | tar -x
-C /tmp/genlab-before``) and ``--after-src`` (this checkout). The data sets:

- ``fashion-mnist``: the 60,000 training images, 28x28 grey (47 MB as uint8);
- ``folder``: a synthetic folder of N RGB PNGs of side S (default 100,000 of
  64x64: 1.23 GB as uint8), written under ``--tmp`` and deleted afterwards.

"The model's own needs" are measured by the same run on a folder of 512
images of the same shape (the data then weighs nothing); the goal is

    peak RSS  <=  the uint8 data  +  the model's own needs  +  500 MB.

Peak RSS does not depend on machine load, so these figures can be taken on a
shared machine. With ``--speed`` the script also reports training speed
(images/s over the timed steps, modes alternating, median of ``--repeats``);
take that only on an idle machine:

    python benchmarks/peak_memory.py --before-src /tmp/genlab-before/src
    python benchmarks/peak_memory.py --before-src /tmp/genlab-before/src --datasets fashion-mnist \\
        --speed --steps 110 --repeats 5 --out benchmarks/results/uint8_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MB = 1e6
SLACK = 500 * MB

CHILD = r"""
import json, resource, sys, tempfile
import torch
args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
import genlab
out = tempfile.mkdtemp(prefix="genlab-mem-")
result = genlab.train("dcgan", data=args["data"], out=out, steps=args["steps"], batch_size=64, log_every=10,
                      sample_every=0, checkpoint_every=0, tensorboard=False, progress=False,
                      num_workers=args["workers"], g_width=args["width"], d_width=args["width"])
rows = [json.loads(l) for l in open(f"{out}/metrics.jsonl") if '"images_per_s"' in l]
speed = [r["images_per_s"] for r in rows if r["step"] > 10]
cfg = json.load(open(f"{out}/config.json"))
print(json.dumps({"genlab": genlab.__file__, "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "children_peak_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
                  "shape": cfg["data"]["shape"], "steps": result.step,
                  "images_per_s": sum(speed) / len(speed) if speed else None}))
import shutil; shutil.rmtree(out)
"""


def write_folder(root: Path, n: int, size: int, grey: bool) -> Path:
    """N smooth random images (they compress like photos, unlike white noise), two class folders."""
    rng = np.random.default_rng(0)
    from PIL import Image

    for i in range(n):
        d = root / ("a" if i % 2 else "b")
        d.mkdir(parents=True, exist_ok=True)
        shape = (size // 4, size // 4) if grey else (size // 8, size // 8, 3)
        small = rng.integers(0, 256, shape, dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.BILINEAR).save(d / f"{i:06d}.png")
    return root


def measure(src: str, data: str, args: argparse.Namespace) -> dict:
    spec = {"data": data, "steps": args.steps, "threads": args.threads, "workers": args.workers,
            "width": args.width}
    env = {**os.environ, "PYTHONPATH": src, "GENLAB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"child failed on {data} with {src}:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["genlab"].startswith(str(Path(src).resolve())), f"imported {result['genlab']}, not {src}"
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before-src", required=True, help="genlab's src/ before the change")
    p.add_argument("--after-src", default=str(HERE.parent / "src"), help="genlab's src/ after (this checkout)")
    p.add_argument("--datasets", default="fashion-mnist,folder")
    p.add_argument("--n", type=int, default=100_000, help="images in the synthetic folder")
    p.add_argument("--size", type=int, default=64, help="side of the synthetic images")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--width", type=int, default=32, help="DCGAN widths (g_width = d_width)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=2, help="folder decoding worker processes")
    p.add_argument("--speed", action="store_true", help="also report images/s (idle machines only)")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--tmp", default=tempfile.gettempdir(), help="where the synthetic folders are written")
    p.add_argument("--out", default=str(HERE / "results" / "peak_memory.json"))
    args = p.parse_args()
    if not args.speed and args.repeats != 1:
        raise SystemExit("--repeats only matters with --speed (peak memory does not vary between runs)")

    results: dict = {"machine": f"{platform.machine()} {os.cpu_count()} cores", "python": sys.version.split()[0],
                     "steps": args.steps, "dcgan_width": args.width, "threads": args.threads, "datasets": {}}
    work = Path(tempfile.mkdtemp(prefix="genlab-peak-", dir=args.tmp))
    try:
        for name in [d for d in args.datasets.split(",") if d]:
            if name == "fashion-mnist":
                data, n, shape, grey = "fashion-mnist", 60_000, (1, 28, 28), True
            elif name == "folder":
                print(f"writing {args.n} PNGs of {args.size}x{args.size} under {work}", flush=True)
                data = "folder:" + str(write_folder(work / "big", args.n, args.size, grey=False))
                n, shape, grey = args.n, (3, args.size, args.size), False
            else:
                raise SystemExit(f"unknown data set {name!r}; use fashion-mnist and/or folder")
            small = write_folder(work / f"small-{name}", 512, shape[-1], grey)
            uint8_bytes = n * int(np.prod(shape))
            row: dict = {"items": n, "shape": list(shape), "uint8_bytes": uint8_bytes,
                         "float32_bytes": 4 * uint8_bytes}
            own = measure(args.after_src, f"folder:{small}", args)
            row["model_own_peak_rss"] = own["peak_rss"]
            runs: dict[str, list[dict]] = {"before": [], "after": []}
            for _ in range(args.repeats):
                for mode, src in (("before", args.before_src), ("after", args.after_src)):
                    runs[mode].append(measure(src, data, args))
                    print(f"{name:14s} {mode:6s} peak RSS {runs[mode][-1]['peak_rss'] / MB:8.0f} MB", flush=True)
            for mode, rs in runs.items():
                row[mode] = {"peak_rss": max(r["peak_rss"] for r in rs),
                             "children_peak_rss": max(r["children_peak_rss"] for r in rs)}
                if args.speed:
                    row[mode]["images_per_s_median"] = statistics.median(r["images_per_s"] for r in rs)
                    row[mode]["images_per_s_all"] = [r["images_per_s"] for r in rs]
            row["goal_bytes"] = uint8_bytes + own["peak_rss"] + SLACK
            row["goal_met"] = row["after"]["peak_rss"] <= row["goal_bytes"]
            results["datasets"][name] = row
            print(f"{name:14s} uint8 data {uint8_bytes / MB:.0f} MB, model's own needs {own['peak_rss'] / MB:.0f} MB, "
                  f"goal <= {row['goal_bytes'] / MB:.0f} MB: after {row['after']['peak_rss'] / MB:.0f} MB "
                  f"({'met' if row['goal_met'] else 'NOT met'}), before {row['before']['peak_rss'] / MB:.0f} MB",
                  flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
