"""Training speed: genlab's Trainer against a plain hand-written PyTorch loop.

Both sides train the same networks (built by genlab with the same seed) on the
same tensors with the same batch size: Fashion-MNIST for the image families,
edges2fashion for cyclegan, sines for rgan and seqvae (the `DATA` table). The
plain loops (`plain_loops.py`, one per family) are what a careful user writes
from the PyTorch examples: a DataLoader over a TensorDataset, torch.optim.Adam
with its defaults, and `loss.item()` each step for logging; each writes out by
hand the work of the family's default `train_step`. Each configuration runs in
its own subprocess (so peak memory, read from getrusage, is its own), the modes
alternate, and we report the median items/s over repeats and the ratio
genlab / plain. An item is an image, a (domain A, domain B) image pair for
cyclegan and a sequence for rgan and seqvae; the output's "images_per_s" fields
count items and each result names its "unit".

    python benchmarks/train_speed.py                       # dcgan and vae, 3 repeats
    python benchmarks/train_speed.py --families all        # all nine families
    python benchmarks/train_speed.py --families dcgan --steps 100 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
MODES = ["plain", "genlab"]


#: the dataset each family trains on, used by both sides
DATA = {
    "gan": "fashion-mnist",
    "dcgan": "fashion-mnist",
    "cgan": "fashion-mnist",
    "infogan": "fashion-mnist",
    "cyclegan": "edges2fashion",
    "rgan": "sines",
    "vae": "fashion-mnist",
    "cvae": "fashion-mnist",
    "seqvae": "sines",
}
FAMILIES = list(DATA)
#: what one item of a batch is; "images_per_s" in the output counts these items per second
UNITS = {"cyclegan": "image pairs (one domain-A and one domain-B image)", "rgan": "sequences",
         "seqvae": "sequences"}
SHORT_UNITS = {"images": "img/s", "sequences": "seq/s"}


def unit(family: str) -> str:
    return UNITS.get(family, "images")


def short_unit(family: str) -> str:
    return SHORT_UNITS.get(unit(family), "pair/s")


def build(family: str, seed: int):
    from genlab.api import prepare_run

    model, data, _cfg = prepare_run(family, data=DATA[family], seed=seed, batch_size=64)
    return model, data


def genlab_run(family, steps, warmup, batch_size, device, extra):
    import tempfile

    import genlab

    with tempfile.TemporaryDirectory() as tmp:
        log_every = 10
        total = warmup + steps
        genlab.train(family, data=DATA[family], out=tmp, steps=total, batch_size=batch_size, seed=0,
                     log_every=log_every, sample_every=0, checkpoint_every=0, tensorboard=False, progress=False,
                     device=device, **extra)
        with open(os.path.join(tmp, "metrics.jsonl")) as f:
            rows = [json.loads(line) for line in f]
    # log windows (prev step, step]; images/s of each window excludes preview/checkpoint time
    windows, prev = [], 0
    for r in rows:
        if "images_per_s" in r:
            windows.append((prev, r["step"], r["images_per_s"]))
            prev = r["step"]
    timed = [w for w in windows if w[0] >= warmup]
    if not timed:  # runs shorter than warmup + one log window: keep what ends after the warm-up
        timed = [w for w in windows if w[1] > warmup]
    # combine windows by total time, not by averaging rates
    items = sum((end - start) * batch_size for start, end, _ in timed)
    return items / sum((end - start) * batch_size / rate for start, end, rate in timed)


def worker(args) -> None:
    torch.manual_seed(0)
    extra = json.loads(args.extra)
    if args.mode == "plain":
        sys.path.insert(0, str(HERE))
        from plain_loops import PLAIN

        model, data = build(args.family, 0)
        tensors = data.prepare("cpu")
        rate = PLAIN[args.family](model, tensors, args.batch_size, args.steps, args.warmup, args.device)
    else:
        rate = genlab_run(args.family, args.steps, args.warmup, args.batch_size, args.device, extra)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"images_per_s": rate, "peak_rss_mb": peak_mb}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--families", default="dcgan,vae", help=f"comma-separated, or all ({','.join(FAMILIES)})")
    p.add_argument("--steps", type=int, default=60, help="timed steps per run")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--variants", default="", help='extra genlab variants as JSON, e.g. {"cl": {"channels_last": true}}')
    p.add_argument("--out", default=str(HERE / "results" / "train_speed.json"))
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--family", help=argparse.SUPPRESS)
    p.add_argument("--mode", help=argparse.SUPPRESS)
    p.add_argument("--extra", default="{}", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)

    variants = {"genlab": {}}
    if args.variants:
        variants.update({f"genlab+{k}": v for k, v in json.loads(args.variants).items()})
    families = FAMILIES if args.families == "all" else args.families.split(",")
    unknown = [f for f in families if f not in DATA]
    if unknown:
        p.error(f"unknown families {', '.join(unknown)}; valid: {', '.join(FAMILIES)} or all")
    results = {}
    for family in families:
        runs: dict[str, list[dict]] = {m: [] for m in ["plain", *variants]}
        for rep in range(args.repeats):
            for mode in ["plain", *variants]:  # alternate the modes within each repeat
                extra = variants.get(mode, {})
                cmd = [sys.executable, __file__, "--worker", "--family", family,
                       "--mode", "plain" if mode == "plain" else "genlab", "--extra", json.dumps(extra),
                       "--steps", str(args.steps), "--warmup", str(args.warmup),
                       "--batch-size", str(args.batch_size), "--device", args.device]
                out = subprocess.run(cmd, check=False, capture_output=True, text=True,
                                     env={**os.environ, "GENLAB_OFFLINE": "1"})
                if out.returncode != 0:
                    sys.exit(f"{family}/{mode} failed:\n{out.stderr[-2000:]}")
                row = json.loads(out.stdout.strip().splitlines()[-1])
                runs[mode].append(row)
                print(f"{family:8s} {mode:22s} rep {rep}: {row['images_per_s']:8.1f} {short_unit(family)}, "
                      f"peak RSS {row['peak_rss_mb']:.0f} MB", flush=True)
        fam = {}
        base = statistics.median(r["images_per_s"] for r in runs["plain"])
        for mode, rows in runs.items():
            med = statistics.median(r["images_per_s"] for r in rows)
            fam[mode] = {"median_images_per_s": med, "all_images_per_s": [r["images_per_s"] for r in rows],
                         "peak_rss_mb": max(r["peak_rss_mb"] for r in rows), "ratio_vs_plain": med / base,
                         "unit": unit(family), "data": DATA[family]}
        results[family] = fam
        for mode, r in fam.items():
            print(f"{family:8s} {mode:22s} median {r['median_images_per_s']:8.1f} {short_unit(family)}  "
                  f"ratio {r['ratio_vs_plain']:.3f}  peak RSS {r['peak_rss_mb']:.0f} MB")
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "device": args.device, "batch_size": args.batch_size, "steps": args.steps, "warmup": args.warmup,
            "repeats": args.repeats, "families": families, "units": {f: unit(f) for f in families},
            "data": {f: DATA[f] for f in families},
            "command": " ".join(["python", "benchmarks/train_speed.py", *sys.argv[1:]])}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
