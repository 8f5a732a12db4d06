"""Train the domain classifiers shipped with genlab.metrics (feature extractors for FID & co.).

Fashion-MNIST: trained on the 60k train split, evaluated on the 10k test split.
MNIST: only the 10k test split (t10k) is available here, so the classifier is
trained on its first 8,000 images and evaluated on the held-out last 2,000.

Writes src/genlab/metrics/weights/{fashion-mnist,mnist}-classifier-v1.safetensors
(float32 weights, architecture in the file's metadata) and a .json beside each
with the measured accuracy, data, split and date.  These are the trained
networks; scripts/derive_multi_depth.py then derives the shipped version-2
extractors from them (features from three depths, docs/metrics.md).  CPU-only by default:

    python scripts/train_classifiers.py                 # both, ~8 min on 2 cores
    python scripts/train_classifiers.py --only mnist
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent
try:
    from genlab.metrics.extractors import ClassifierCNN
except ImportError:  # running from a checkout without an installed genlab
    sys.path.insert(0, str(REPO / "src"))
    from genlab.metrics.extractors import ClassifierCNN

WEIGHTS_DIR = REPO / "src" / "genlab" / "metrics" / "weights"
FASHION_ROOT = Path("/usr/share/datasets/fashion-mnist")
MNIST_ROOT = REPO.parent / "shared" / "data" / "mnist-t10k"

# Fixed recipes, chosen before looking at any test accuracy.
RECIPES = {
    "fashion-mnist": dict(epochs=10, lr=3e-3, weight_decay=5e-4, batch_size=128, flip=True, rotate=0.0, shift=2.0, scale=0.0),
    "mnist": dict(epochs=40, lr=3e-3, weight_decay=5e-4, batch_size=128, flip=False, rotate=12.0, shift=2.5, scale=0.1),
}


def read_idx(path: Path, offset: int) -> np.ndarray:
    """Payload of a gzipped IDX file (offset 16 for images, 8 for labels) as uint8."""
    with gzip.open(path, "rb") as handle:
        return np.frombuffer(handle.read(), dtype=np.uint8, offset=offset)


def load_split(root: Path, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    images = read_idx(root / f"{prefix}-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28)
    labels = read_idx(root / f"{prefix}-labels-idx1-ubyte.gz", 8).astype(np.int64)
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.copy())


def augment(x: torch.Tensor, recipe: dict, gen: torch.Generator) -> torch.Tensor:
    """Random affine jitter (shift in pixels, rotation in degrees, scale) and optional h-flip."""
    n = len(x)
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(recipe["rotate"])
    scale = 1 + (torch.rand(n, generator=gen) * 2 - 1) * recipe["scale"]
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * recipe["shift"] * 2 / 28  # pixels -> [-1, 1] units
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0) if recipe["flip"] else torch.ones(n)
    theta = torch.stack([torch.stack([cos * flip, -sin, shift[:, 0]], 1), torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


@torch.no_grad()
def feature_scale(model: ClassifierCNN, images: torch.Tensor) -> torch.Tensor:
    """1 / standard deviation of each feature on the (unaugmented) training images."""
    model.eval()
    feats = torch.cat([model.features(images[i : i + 1000].float() / 255) for i in range(0, len(images), 1000)])
    return 1.0 / feats.std(0).clamp_min(1e-6)


@torch.no_grad()
def accuracy(model: ClassifierCNN, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, int]:
    model.eval()
    correct = 0
    for start in range(0, len(images), 1000):
        logits = model(images[start : start + 1000].float() / 255)
        correct += int((logits.argmax(1) == labels[start : start + 1000]).sum())
    return correct / len(images), correct


def train(domain: str, train_x, train_y, test_x, test_y, seed: int, device: str) -> tuple[ClassifierCNN, dict]:
    recipe = RECIPES[domain]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = ClassifierCNN().to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe["lr"], weight_decay=recipe["weight_decay"])
    steps_per_epoch = math.ceil(len(train_x) / recipe["batch_size"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, recipe["lr"], total_steps=recipe["epochs"] * steps_per_epoch)
    start = time.time()
    for epoch in range(recipe["epochs"]):
        model.train()
        order = torch.randperm(len(train_x), generator=gen)
        total = 0.0
        for i in range(steps_per_epoch):
            idx = order[i * recipe["batch_size"] : (i + 1) * recipe["batch_size"]]
            x = augment(train_x[idx].float() / 255, recipe, gen).to(device).contiguous(memory_format=torch.channels_last)
            loss = F.cross_entropy(model(x), train_y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        print(f"[{domain}] epoch {epoch + 1}/{recipe['epochs']} loss {total / steps_per_epoch:.4f} ({time.time() - start:.0f}s)", flush=True)
    model = model.cpu().to(memory_format=torch.contiguous_format).eval()
    acc, correct = accuracy(model, test_x, test_y)
    info = dict(recipe, train_seconds=round(time.time() - start, 1), test_accuracy=acc, test_correct=correct)
    return model, info


def save(domain: str, model: ClassifierCNN, info: dict, out_dir: Path) -> None:
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{domain}-classifier-v1.safetensors"
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    meta = dict(model.config(), dataset=domain, train_split=info["train_split"], test_split=info["test_split"])
    save_file(state, str(path), metadata=meta)
    path.chmod(0o644)
    info = dict(
        name=f"{domain}-classifier-v1",
        dataset=domain,
        **{k: info[k] for k in ("train_split", "test_split", "train_examples", "test_examples", "test_accuracy", "test_correct")},
        parameters=sum(p.numel() for p in model.parameters()),
        architecture=model.config(),
        recipe={k: info[k] for k in RECIPES[domain]},
        seed=info["seed"],
        train_seconds=info["train_seconds"],
        device=info["device"],
        threads=torch.get_num_threads(),
        date=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d"),
        torch=torch.__version__,
        python=platform.python_version(),
        weights_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        script="scripts/train_classifiers.py",
    )
    (out_dir / f"{domain}-classifier-v1.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"[{domain}] test accuracy {info['test_accuracy']:.4f} ({info['test_correct']}/{info['test_examples']}) -> {path}")


def domain_splits(domain: str, fashion_root: Path, mnist_root: Path):
    """(train images, train labels, test images, test labels, split description) of a classifier's domain.

    MNIST has only its 10k test split here: the first 8,000 train, the last 2,000 test.
    """
    if domain == "fashion-mnist":
        (tx, ty), (vx, vy) = load_split(fashion_root, "train"), load_split(fashion_root, "t10k")
        return tx, ty, vx, vy, dict(train_split="train (all 60000)", test_split="test (all 10000)")
    x, y = load_split(mnist_root, "t10k")
    return (x[:8000], y[:8000], x[8000:], y[8000:],
            dict(train_split="test[0:8000] (no train split available)", test_split="test[8000:10000]"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(RECIPES), help="train only this classifier")
    parser.add_argument("--fashion-root", type=Path, default=FASHION_ROOT, help="dir with Fashion-MNIST IDX .gz files")
    parser.add_argument("--mnist-root", type=Path, default=MNIST_ROOT, help="dir with MNIST t10k IDX .gz files")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    for domain in [args.only] if args.only else ["fashion-mnist", "mnist"]:
        tx, ty, vx, vy, splits = domain_splits(domain, args.fashion_root, args.mnist_root)
        model, info = train(domain, tx, ty, vx, vy, args.seed, args.device)
        info.update(splits, train_examples=len(tx), test_examples=len(vx), seed=args.seed, device=args.device)
        save(domain, model, info, args.out)


if __name__ == "__main__":
    main()
