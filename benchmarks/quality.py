"""Sample quality per CPU-minute: genlab's image families at their defaults against a plain PyTorch DCGAN.

One invocation trains, one after another (never two at once):

* each genlab family named in `--families` with its defaults, for `--minutes`
  of wall-clock training (`genlab train FAMILY --data fashion-mnist --minutes M`);
* the plain-loop twin of DCGAN for the same budget (`--plain`, widths 32 and
  64): the textbook 32x32 DCGAN of the PyTorch examples (transposed
  convolutions 4x4, BatchNorm, ReLU / LeakyReLU 0.2, N(0, 0.02) weights, Adam
  2e-4 with betas (0.5, 0.999), the nonsaturating loss, batch 128, no EMA),
  Fashion-MNIST padded from 28 to 32 pixels with background, written by hand
  here and never calling genlab's training code.

Every `--snapshot-every` seconds of training the weights a sampler would use
(genlab: the EMA generator when on) are copied aside; after training each
snapshot draws `--n` samples that `genlab eval` scores, which gives FID against
wall-clock seconds (time spent copying snapshots is excluded from neither
side, and it is a few milliseconds). Final models are scored by `genlab eval
RUN` against the training split and against the test split; cgan adds the
accuracy of the requested class, per-class recall and intra-class FID, and
infogan the agreement of its categorical code with the true class (best
one-to-one assignment) and a traversal grid of each continuous code.

Results go to benchmarks/results/quality.json (`--out`); `--readme` also
rewrites the README's image results table from them.

    python benchmarks/quality.py --minutes 5            # the issue's protocol
    python benchmarks/quality.py --families dcgan --plain 32 --minutes 2 --set dcgan.ema=0.999
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genlab.capabilities import SamplingNetwork

HERE = Path(__file__).resolve().parent
DEFAULT_FAMILIES = "dcgan,gan,cgan,infogan"


# ------------------------------------------------------------------ helpers

def genlab_cli(*args: str) -> str:
    """Run the genlab CLI with this interpreter; its stdout."""
    out = subprocess.run([sys.executable, "-m", "genlab", *args], check=True, stdout=subprocess.PIPE, text=True)
    return out.stdout


def eval_target(target: Path, n: int, ref: str, extra: tuple[str, ...] = ()) -> dict:
    """`genlab eval TARGET --ref REF --n N --json` (FID, precision, recall, density, coverage)."""
    metrics = "fid,pr,dc" + "".join(f",{m}" for m in extra)
    row = json.loads(genlab_cli("eval", str(target), "--n", str(n), "--ref", ref, "--metrics", metrics,
                                "--no-family-metrics", "--json"))
    return row["metrics"]


def save_npz(path: Path, images: torch.Tensor, labels: torch.Tensor | None = None) -> Path:
    """uint8 N x C x H x W images (from floats in [0, 1]) and optional labels as an .npz."""
    arr = images.clamp(0, 1).mul(255).round().to(torch.uint8).numpy()
    if labels is None:
        np.savez(path, images=arr)
    else:
        np.savez(path, images=arr, labels=labels.numpy())
    return path


def machine() -> dict:
    load = os.getloadavg()
    return {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
            "processor": platform.processor(), "torch": torch.__version__, "loadavg_at_start": load}


class Snapshots:
    """Copies of a sampler's weights every `every` seconds of training (wall clock)."""

    def __init__(self, every: float):
        self.every = every
        self.items: list[dict] = []
        self.t0 = time.perf_counter()
        self.next = every

    def maybe(self, step: int, module: nn.Module) -> None:
        t = time.perf_counter() - self.t0
        if t >= self.next:
            self.items.append({"seconds": round(t, 1), "step": step, "state": copy.deepcopy(module.state_dict())})
            self.next += self.every


# ------------------------------------------------------------------ the plain loop

class PlainG(nn.Module):
    def __init__(self, nz: int, w: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(nz, w * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(w * 4), nn.ReLU(True),
            nn.ConvTranspose2d(w * 4, w * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(w * 2), nn.ReLU(True),
            nn.ConvTranspose2d(w * 2, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(True),
            nn.ConvTranspose2d(w, 1, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z):
        return self.net(z.view(z.shape[0], -1, 1, 1))


class PlainD(nn.Module):
    def __init__(self, w: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, w, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
            nn.Conv2d(w, w * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(w * 2), nn.LeakyReLU(0.2, True),
            nn.Conv2d(w * 2, w * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(w * 4), nn.LeakyReLU(0.2, True),
            nn.Conv2d(w * 4, 1, 4, 1, 0, bias=False))

    def forward(self, x):
        return self.net(x).view(-1)


def dcgan_init(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def fashion_train_padded() -> torch.Tensor:
    """Fashion-MNIST training images in [-1, 1], padded with background (-1) from 28 to 32 pixels."""
    from genlab.data import load_images

    x = load_images("fashion-mnist", split="train").images.float().div(127.5).sub(1)
    return F.pad(x, (2, 2, 2, 2), value=-1.0)


def train_plain(width: int, seconds: float, snapshot_every: float, seed: int) -> dict:
    """The textbook DCGAN loop for `seconds` of wall clock; snapshots of G along the way."""
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(seed)
    nz = 100
    G, D = PlainG(nz, width), PlainD(width)
    G.apply(dcgan_init)
    D.apply(dcgan_init)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loader = DataLoader(TensorDataset(fashion_train_padded()), batch_size=128, shuffle=True, drop_last=True)
    bce = nn.BCEWithLogitsLoss()
    snaps = Snapshots(snapshot_every)
    step = 0
    t0 = time.perf_counter()
    done = False
    while not done:
        for (real,) in loader:
            n = real.shape[0]
            ones, zeros = torch.ones(n), torch.zeros(n)
            z = torch.randn(n, nz)
            fake = G(z)
            opt_d.zero_grad()
            loss_d = bce(D(real), ones) + bce(D(fake.detach()), zeros)
            loss_d.backward()
            opt_d.step()
            opt_g.zero_grad()
            loss_g = bce(D(fake), ones)
            loss_g.backward()
            opt_g.step()
            step += 1
            snaps.maybe(step, G)
            if time.perf_counter() - t0 >= seconds:
                done = True
                break
    final = {"seconds": round(time.perf_counter() - t0, 1), "step": step, "state": copy.deepcopy(G.state_dict())}
    return {"G": G, "snapshots": snaps.items, "final": final, "steps": step,
            "images_per_second": step * 128 / final["seconds"]}


@torch.no_grad()
def plain_samples(G: nn.Module, state: dict, n: int, seed: int) -> torch.Tensor:
    """n samples in [0, 1] at 28x28 (the 2-pixel padding cropped away)."""
    G.load_state_dict(state)
    G.eval()
    gen = torch.Generator().manual_seed(seed)
    out = torch.cat([G(torch.randn(min(500, n - i), 100, generator=gen)) for i in range(0, n, 500)])
    G.train()
    return out[:, :, 2:30, 2:30].add(1).div(2)


# ------------------------------------------------------------------ genlab runs

def train_genlab(family: str, seconds: float, snapshot_every: float, seed: int, run: Path,
                 options: dict) -> dict:
    """`genlab.train(family, 'fashion-mnist', minutes=...)` with snapshots of the sampling generator."""
    import genlab
    from genlab.models.callbacks import Callback

    snaps = Snapshots(snapshot_every)

    class Snap(Callback):
        def on_train_start(self, trainer):
            snaps.t0 = time.perf_counter()

        def on_log(self, trainer, step, logs):
            snaps.maybe(step, sampler_of(trainer.model))

    t0 = time.perf_counter()
    result = genlab.train(family, "fashion-mnist", out=run, minutes=seconds / 60, seed=seed, log_every=10,
                          callbacks=[Snap()], **options)
    wall = time.perf_counter() - t0
    return {"result": result, "snapshots": snaps.items, "steps": result.step, "wall_seconds": round(wall, 1)}


def sampler_of(model) -> nn.Module:
    """The weights a model samples with: a GAN's (EMA) generator, else the whole model (a VAE)."""
    return model.sampling_generator() if isinstance(model, SamplingNetwork) else model


def snapshot_samples(model, state: dict, n: int, seed: int) -> dict:
    """Samples (and labels) from a genlab model with `state` loaded into its sampling generator."""
    net = sampler_of(model)
    keep = copy.deepcopy(net.state_dict())
    net.load_state_dict(state)
    out = model.sample(n, seed=seed)
    net.load_state_dict(keep)
    return out


def curve(points: list[dict], sample_fn, n: int, tmp: Path, tag: str) -> list[dict]:
    """FID (and precision/recall) of each snapshot against the training split."""
    rows = []
    for i, p in enumerate(points):
        images, labels = sample_fn(p["state"])
        path = save_npz(tmp / f"{tag}-{i}.npz", images, labels)
        m = eval_target(path, n, "fashion-mnist")
        rows.append({"seconds": p["seconds"], "step": p["step"], "fid": m["fid"], "precision": m["precision"],
                     "recall": m["recall"]})
        print(f"  {tag} t={p['seconds']:6.1f}s step {p['step']:6d} FID {m['fid']:7.2f} "
              f"P {m['precision']:.2f} R {m['recall']:.2f}", flush=True)
    return rows


# ------------------------------------------------------------------ family-specific scores

def class_features(n_per_class: int) -> tuple[dict[int, np.ndarray], object]:
    """Features of the first `n_per_class` training images of each class, and the extractor."""
    from genlab.data import load_images
    from genlab.metrics.extractors import get_extractor

    ext = get_extractor("fashion-mnist-classifier")
    data = load_images("fashion-mnist", split="train")
    feats = {}
    for k in range(10):
        real = data.images[data.labels == k][:n_per_class]
        feats[k] = ext.extract(real).features.numpy()
    return feats, ext


def conditional_scores(model, n_per_class: int, seed: int) -> dict:
    """Per requested class: accuracy of the shipped classifier, FID (intra-class) and precision/recall
    against that class' training images (as many real as generated, `n_per_class`)."""
    from genlab.metrics import distances as D

    real, ext = class_features(n_per_class)
    per_class = {}
    for k in range(10):
        labels = torch.full((n_per_class,), k, dtype=torch.long)
        images = model.sample(n_per_class, seed=seed + k, labels=labels)["images"]
        out = ext.extract(images)
        fake = out.features.numpy()
        precision, recall = D.precision_recall(real[k], fake, k=3)
        per_class[k] = {"fid": D.fid(real[k], fake), "precision": precision, "recall": recall,
                        "accuracy": D.classifier_accuracy(out.logits.numpy(), labels.numpy())}
    mean = {key: float(np.mean([v[key] for v in per_class.values()])) for key in ("accuracy", "recall", "fid")}
    return {"accuracy": mean["accuracy"], "mean_class_recall": mean["recall"], "mean_intra_class_fid": mean["fid"],
            "n_per_class": n_per_class, "per_class": per_class}


def infogan_scores(model, n: int, seed: int) -> dict:
    """Agreement of the first categorical code with the true class: the shipped classifier labels
    the samples, and codes are mapped to classes by the best one-to-one assignment (Hungarian)."""
    from scipy.optimize import linear_sum_assignment

    from genlab.metrics.extractors import get_extractor

    cat = next((c for c in model.latent_codes() if c["kind"] == "categorical"), None)
    if cat is None:
        return {"note": "no categorical code"}
    z = model.latent(n, torch.Generator(device=model.device).manual_seed(seed))
    codes = z[:, cat["start"]:cat["start"] + cat["size"]].argmax(1).cpu().numpy()
    images = snapshot_images(model, z)
    pred = get_extractor("fashion-mnist-classifier").extract(images).logits.argmax(1).numpy()
    table = np.zeros((cat["size"], 10))
    np.add.at(table, (codes, pred), 1)
    rows, cols = linear_sum_assignment(-table)
    return {"categorical_agreement": float(table[rows, cols].sum() / n),
            "code_to_class": {int(r): int(c) for r, c in zip(rows, cols)}}


def snapshot_images(model, z):
    x, _ = model.generate_all(len(z), z=z)
    return x.add(1).div(2).clamp(0, 1)


# ------------------------------------------------------------------ main

def parse_sets(items: list[str]) -> dict[str, dict]:
    """--set family.key=value (YAML-typed values) into {family: {key: value}}."""
    import yaml

    out: dict[str, dict] = {}
    for item in items:
        fam_key, _, value = item.partition("=")
        fam, _, key = fam_key.partition(".")
        out.setdefault(fam, {})[key.replace("-", "_")] = yaml.safe_load(value)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--families", default=DEFAULT_FAMILIES)
    p.add_argument("--plain", default="32,64", help="widths of the plain DCGAN loop ('' = none)")
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--plain-minutes", type=float, default=None, help="plain loop budget (default --minutes)")
    p.add_argument("--snapshot-every", type=float, default=60.0)
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--set", action="append", default=[], help="family.option=value for genlab runs")
    p.add_argument("--runs", type=Path, default=None, help="where genlab's runs go (default: a temporary folder)")
    p.add_argument("--out", type=Path, default=HERE / "results" / "quality.json")
    p.add_argument("--curve", default="dcgan", help="genlab families that get a FID-vs-seconds curve "
                   "(the plain loops always do unless --no-curve)")
    p.add_argument("--no-curve", action="store_true", help="score only the final models")
    p.add_argument("--readme", action="store_true", help="rewrite the README's image table from the results")
    p.add_argument("--readme-only", type=Path, default=None, help="rewrite the README's table from this quality.json")
    args = p.parse_args()
    if args.readme_only:
        write_readme(json.loads(args.readme_only.read_text()), HERE.parent / "README.md")
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    sets = parse_sets(args.set)
    seconds = args.minutes * 60
    plain_seconds = (args.plain_minutes or args.minutes) * 60
    tmp = Path(tempfile.mkdtemp(prefix="genlab-quality-"))
    runs_root = args.runs or tmp / "runs"
    result: dict = {"protocol": {"minutes": args.minutes, "plain_minutes": plain_seconds / 60, "n": args.n,
                                 "seed": args.seed, "snapshot_every": args.snapshot_every, "set": args.set,
                                 "extractor": "fashion-mnist-classifier (v2, the default)"},
                    "machine": machine(), "genlab": {}, "plain": {}}
    import genlab

    for fam in [f for f in args.families.split(",") if f]:
        print(f"== genlab {fam}: {args.minutes} min", flush=True)
        run = runs_root / fam
        tr = train_genlab(fam, seconds, args.snapshot_every, args.seed, run, sets.get(fam, {}))
        model = genlab.load(run)
        entry = {"run": str(run), "steps": tr["steps"], "wall_seconds": tr["wall_seconds"], "options": sets.get(fam, {}),
                 "images_per_second": round(tr["steps"] * model_batch(run) / max(tr["wall_seconds"], 1e-9), 1)}
        extra = ("accuracy",) if model.conditional else ()
        entry["train_split"] = eval_target(run, args.n, "fashion-mnist", extra)
        entry["test_split"] = eval_target(run, args.n, "fashion-mnist:test", extra)
        if not args.no_curve and fam in args.curve.split(","):
            def fn(state, model=model):
                s = snapshot_samples(model, state, args.n, 1)
                return s["images"], s.get("labels")
            entry["curve"] = curve(tr["snapshots"], fn, args.n, tmp, fam)
        if model.conditional:
            entry["per_class"] = conditional_scores(model, 1000, 7)
        if fam == "infogan":
            entry["infogan"] = infogan_scores(model, args.n, 7)
        print(f"  {fam}: steps {tr['steps']}, train split {fmt(entry['train_split'])}; test split {fmt(entry['test_split'])}",
              flush=True)
        result["genlab"][fam] = entry
        args.out.write_text(json.dumps(result, indent=2) + "\n")

    for w in [int(w) for w in args.plain.split(",") if w]:
        print(f"== plain DCGAN loop, widths {w}: {plain_seconds / 60} min", flush=True)
        tr = train_plain(w, plain_seconds, args.snapshot_every, args.seed)
        G = tr["G"]
        final = save_npz(tmp / f"plain{w}-final.npz", plain_samples(G, tr["final"]["state"], args.n, 1))
        entry = {"steps": tr["steps"], "images_per_second": round(tr["images_per_second"], 1),
                 "train_split": eval_target(final, args.n, "fashion-mnist"),
                 "test_split": eval_target(final, args.n, "fashion-mnist:test")}
        if not args.no_curve:
            entry["curve"] = curve(tr["snapshots"], lambda s: (plain_samples(G, s, args.n, 1), None), args.n, tmp, f"plain{w}")
        print(f"  plain{w}: steps {tr['steps']}, train split {fmt(entry['train_split'])}", flush=True)
        result["plain"][f"width{w}"] = entry
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    result["machine"]["loadavg_at_end"] = os.getloadavg()
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    if args.readme:
        write_readme(result, HERE.parent / "README.md")


START, END = "<!-- quality-table: written by benchmarks/quality.py --readme -->", "<!-- /quality-table -->"
COMMANDS = {"dcgan": "`make demo` = `genlab train dcgan --data fashion-mnist --minutes 5`"}


def readme_table(result: dict) -> str:
    """The README's image results table from a quality.json."""
    minutes = result["protocol"]["minutes"]
    lines = ["| model | command | steps in the budget | FID | P | R | density | coverage | more |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for fam, e in result["genlab"].items():
        m = e["train_split"]
        cmd = COMMANDS.get(fam, f"`genlab train {fam} --data fashion-mnist --minutes {minutes:g}`")
        more = [f"test split: FID {e['test_split']['fid']:.1f}, R {e['test_split']['recall']:.2f}"]
        if "per_class" in e:
            pc = e["per_class"]
            more.append(f"requested class recognised {pc['accuracy']:.2f}, mean per-class recall "
                        f"{pc['mean_class_recall']:.2f}, mean intra-class FID {pc['mean_intra_class_fid']:.1f}")
        if "infogan" in e and "categorical_agreement" in e["infogan"]:
            more.append(f"categorical code vs class {e['infogan']['categorical_agreement']:.2f}")
        lines.append(f"| {fam} | {cmd} | {e['steps']:,} | {m['fid']:.1f} | {m['precision']:.2f} | {m['recall']:.2f} | "
                     f"{m['density']:.2f} | {m['coverage']:.2f} | {'; '.join(more)} |")
    for name, e in result["plain"].items():
        m = e["train_split"]
        lines.append(f"| plain PyTorch DCGAN loop, widths {name.removeprefix('width')} | `python benchmarks/quality.py` "
                     f"| {e['steps']:,} | {m['fid']:.1f} | {m['precision']:.2f} | {m['recall']:.2f} | "
                     f"{m['density']:.2f} | {m['coverage']:.2f} | the textbook loop, same budget, same run |")
    return "\n".join(lines)


def write_readme(result: dict, readme: Path) -> None:
    from readme_block import replace_block  # noqa: PLC0415 - beside this script

    replace_block(readme, START, END, readme_table(result))


def model_batch(run: Path) -> int:
    cfg = json.loads((run / "config.json").read_text())
    train_cfg = cfg.get("train", cfg)
    return int(train_cfg.get("batch_size", 64))


def fmt(m: dict) -> str:
    return " ".join(f"{k} {m[k]:.3f}" for k in ("fid", "precision", "recall", "density", "coverage", "accuracy") if k in m)


if __name__ == "__main__":
    main()
