"""Loading a folder of images: decoding in the main process vs in worker processes.

Writes N random RGB PNGs of side S into a temporary folder (two class
subfolders), then times `load_dataset("folder:...")` with `workers=0` and with
`workers=W`, modes alternating, median of repeats; checks both give the same
tensor. Training then reads the decoded uint8 tensor by indexing, so this load
is the only data work a `folder:` run does.

    python benchmarks/folder_load.py --n 10000 --size 64 --workers 2 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

HERE = Path(__file__).resolve().parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(HERE / "results" / "folder_load.json"))
    args = p.parse_args()

    from genlab.data import load_dataset

    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        for i in range(args.n):
            d = Path(tmp) / ("a" if i % 2 else "b")
            d.mkdir(exist_ok=True)
            # smooth random images (compress like photos do, unlike white noise)
            small = rng.integers(0, 256, (args.size // 8, args.size // 8, 3), dtype=np.uint8)
            Image.fromarray(small).resize((args.size, args.size), Image.BILINEAR).save(d / f"{i:06d}.png")
        times: dict[str, list[float]] = {"main process": [], f"{args.workers} workers": []}
        ref = None
        for _ in range(args.repeats):
            for mode, workers in ((f"{args.workers} workers", args.workers), ("main process", 0)):
                t0 = time.perf_counter()
                data = load_dataset(f"folder:{tmp}", workers=workers)
                times[mode].append(time.perf_counter() - t0)
                if ref is None:
                    ref = data.images
                assert torch.equal(ref, data.images), "worker decoding changed the images"
                print(f"{mode:12s} {times[mode][-1]:6.2f} s", flush=True)
    med = {m: statistics.median(t) for m, t in times.items()}
    base = med["main process"]
    results = {m: {"median_s": v, "all_s": times[m], "images_per_s": args.n / v, "speedup": base / v}
               for m, v in med.items()}
    for m, r in results.items():
        print(f"{m:12s} median {r['median_s']:6.2f} s  {r['images_per_s']:8.0f} images/s  x{r['speedup']:.2f}")
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "torch": torch.__version__, "n": args.n, "size": args.size,
            "workers": args.workers, "repeats": args.repeats,
            "command": "python benchmarks/folder_load.py " + " ".join(
                f"--{k} {getattr(args, k)}" for k in ("n", "size", "workers", "repeats"))}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
