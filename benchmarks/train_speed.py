"""Training speed: genlab's Trainer against a plain hand-written PyTorch loop.

Both sides train the same networks (built by genlab with the same seed) on the
same Fashion-MNIST tensors with the same batch size. The plain loop is what a
careful user writes from the PyTorch examples: a DataLoader over a
TensorDataset, torch.optim.Adam with its defaults, and `loss.item()` each step
for logging. Each configuration runs in its own subprocess (so peak memory,
read from getrusage, is its own), the modes alternate, and we report the
median images/s over repeats and the ratio genlab / plain.

    python benchmarks/train_speed.py                       # dcgan and vae, 3 repeats
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


def build(family: str, seed: int):
    from genlab.api import prepare_run

    model, data, cfg = prepare_run(family, data="fashion-mnist", seed=seed, batch_size=64)
    return model, data


def plain_dcgan(model, x, batch_size, steps, warmup, device):
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset

    G, D = model.generator.to(device), model.discriminator.to(device)
    c = model.config
    opt_g = torch.optim.Adam(G.parameters(), lr=c.lr_g, betas=(c.beta1, c.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=c.lr_d, betas=(c.beta1, c.beta2))
    loader = DataLoader(TensorDataset(x), batch_size=batch_size, shuffle=True, drop_last=True)
    G.train(), D.train()
    step, t0 = 0, None
    while step < warmup + steps:
        for (real,) in loader:
            real = real.to(device)
            if step == warmup:
                t0 = time.perf_counter()
            n = real.shape[0]
            z = torch.randn(n, c.latent_dim, device=device)
            fake = G(z)
            d_real, d_fake = D(real).view(-1), D(fake.detach()).view(-1)
            loss_d = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + \
                F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            out = D(fake).view(-1)
            loss_g = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            _ = (loss_d.item(), loss_g.item())  # logged every step, as in the PyTorch DCGAN example
            step += 1
            if step >= warmup + steps:
                break
    return steps * batch_size / (time.perf_counter() - t0)


def plain_vae(model, x, batch_size, steps, warmup, device):
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset

    enc, dec = model.encoder.to(device), model.decoder.to(device)
    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.Adam(params, lr=model.config.lr)
    loader = DataLoader(TensorDataset(x), batch_size=batch_size, shuffle=True, drop_last=True)
    step, t0 = 0, None
    while step < warmup + steps:
        for (xb,) in loader:
            xb = xb.to(device)
            if step == warmup:
                t0 = time.perf_counter()
            x01 = (xb + 1) / 2
            mu, logvar = enc(xb)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            logits = dec(z)
            rec = F.binary_cross_entropy_with_logits(logits, x01, reduction="sum") / xb.shape[0]
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / xb.shape[0]
            loss = rec + kl
            opt.zero_grad()
            loss.backward()
            opt.step()
            _ = loss.item()  # running loss, as in the PyTorch VAE example
            step += 1
            if step >= warmup + steps:
                break
    return steps * batch_size / (time.perf_counter() - t0)


PLAIN = {"dcgan": plain_dcgan, "vae": plain_vae}


def genlab_run(family, steps, warmup, batch_size, device, extra):
    import tempfile

    import genlab

    with tempfile.TemporaryDirectory() as tmp:
        log_every = 10
        total = warmup + steps
        genlab.train(family, data="fashion-mnist", out=tmp, steps=total, batch_size=batch_size, seed=0,
                     log_every=log_every, sample_every=0, checkpoint_every=0, tensorboard=False, progress=False,
                     device=device, **extra)
        rows = [json.loads(line) for line in open(os.path.join(tmp, "metrics.jsonl"))]
    # windows after the warm-up steps; images/s of each window excludes preview/checkpoint time
    rates = [r["images_per_s"] for r in rows if "images_per_s" in r and r["step"] > warmup]
    # combine windows by total time, not by averaging rates
    return len(rates) * log_every * batch_size / sum(log_every * batch_size / r for r in rates)


def worker(args) -> None:
    torch.manual_seed(0)
    extra = json.loads(args.extra)
    if args.mode == "plain":
        model, data = build(args.family, 0)
        x = data.prepare("cpu")["x"]
        rate = PLAIN[args.family](model, x, args.batch_size, args.steps, args.warmup, args.device)
    else:
        rate = genlab_run(args.family, args.steps, args.warmup, args.batch_size, args.device, extra)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"images_per_s": rate, "peak_rss_mb": peak_mb}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--families", default="dcgan,vae")
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
    results = {}
    for family in args.families.split(","):
        runs: dict[str, list[dict]] = {m: [] for m in ["plain", *variants]}
        for rep in range(args.repeats):
            for mode in ["plain", *variants]:  # alternate the modes within each repeat
                extra = variants.get(mode, {})
                cmd = [sys.executable, __file__, "--worker", "--family", family,
                       "--mode", "plain" if mode == "plain" else "genlab", "--extra", json.dumps(extra),
                       "--steps", str(args.steps), "--warmup", str(args.warmup),
                       "--batch-size", str(args.batch_size), "--device", args.device]
                out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "GENLAB_OFFLINE": "1"})
                if out.returncode != 0:
                    sys.exit(f"{family}/{mode} failed:\n{out.stderr[-2000:]}")
                row = json.loads(out.stdout.strip().splitlines()[-1])
                runs[mode].append(row)
                print(f"{family:6s} {mode:22s} rep {rep}: {row['images_per_s']:8.1f} img/s, "
                      f"peak RSS {row['peak_rss_mb']:.0f} MB", flush=True)
        fam = {}
        base = statistics.median(r["images_per_s"] for r in runs["plain"])
        for mode, rows in runs.items():
            med = statistics.median(r["images_per_s"] for r in rows)
            fam[mode] = {"median_images_per_s": med, "all_images_per_s": [r["images_per_s"] for r in rows],
                         "peak_rss_mb": max(r["peak_rss_mb"] for r in rows), "ratio_vs_plain": med / base}
        results[family] = fam
        for mode, r in fam.items():
            print(f"{family:6s} {mode:22s} median {r['median_images_per_s']:8.1f} img/s  "
                  f"ratio {r['ratio_vs_plain']:.3f}  peak RSS {r['peak_rss_mb']:.0f} MB")
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "device": args.device, "batch_size": args.batch_size, "steps": args.steps, "warmup": args.warmup,
            "repeats": args.repeats, "command": " ".join(["python", "benchmarks/train_speed.py", *sys.argv[1:]])}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
