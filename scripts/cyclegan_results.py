"""CycleGAN on edges2fashion: a short CPU run scored against the true items.

Trains `cyclegan` on edges2fashion (unpaired: edge maps of one half of
Fashion-MNIST's train split, items of the other half) for a wall-clock
budget with one thread, then translates every edge map of the test split and
compares each translation with the item it was computed from:

- MAE: mean absolute pixel error, pixels in [0, 1];
- SSIM: genlab.models.cyclegan.scores.ssim (written in genlab, Gaussian
  window 11 / sigma 1.5, K1 0.01, K2 0.03, 'valid' positions);
- accuracy: a Fashion-MNIST classifier's accuracy on the translations
  against the true labels (the shipped genlab.metrics classifier when present,
  else a small CNN trained here, which the output says).

The untranslated edge maps are scored the same way as a baseline. Writes
RUN/results.json and the grid PNG (rows: test edge maps, translations, true
items) and prints a Markdown table row.

    python scripts/cyclegan_results.py --steps 2000 --out runs/cyclegan-e2f
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=2000, help="training steps (the paper's schedule: constant "
                   "learning rate for the first half, linear decay to 0 over the second)")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget instead of --steps (no decay)")
    p.add_argument("--generator", default="resnet", choices=("resnet", "unet"))
    p.add_argument("--width", type=int, default=16, help="g_width and d_width")
    p.add_argument("--n-blocks", type=int, default=3)
    p.add_argument("--lambda-identity", type=float, default=0.5, help="identity weight relative to the cycle's")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/cyclegan-edges2fashion", help="run folder (must not hold a run)")
    p.add_argument("--grid", default=str(REPO / "docs" / "cyclegan" / "edges2fashion.png"))
    p.add_argument("--n-test", type=int, default=10000, help="test pairs to score")
    p.add_argument("--eval-only", action="store_true", help="score an existing run in --out")
    return p.parse_args(argv)


def fashion_classifier(threads: int):
    """(predict(images01) -> labels, description): the shipped classifier or a fallback."""
    try:
        from genlab.metrics import MetricsError, load_classifier

        try:
            clf = load_classifier("fashion-mnist")

            def predict(x):
                return clf.extract(x).logits.argmax(1)

            return predict, "shipped genlab.metrics fashion-mnist classifier"
        except MetricsError:
            pass
    except ImportError:
        pass
    return train_fallback_classifier(), "fallback CNN trained by this script for 2 epochs (shipped classifier absent)"


def train_fallback_classifier(epochs: int = 2):
    """A small CNN trained on Fashion-MNIST's train split (fixed seed and epochs: deterministic)."""
    from torch import nn

    from genlab.data import load_dataset

    data = load_dataset("fashion-mnist")
    x = data.images.float().div(255)
    y = data.labels
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(32 * 49, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x) - 127, 128):
            idx = perm[i:i + 128]
            loss = nn.functional.cross_entropy(net(x[idx] * 2 - 1), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()

    @torch.no_grad()
    def predict(images):
        return torch.cat([net(c * 2 - 1).argmax(1) for c in images.split(1000)])

    return predict


def cpu_seconds() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def score(pred01, target01, labels, predict):
    from genlab.models.cyclegan.scores import mae, ssim

    return {"mae": float(mae(pred01, target01).mean()), "ssim": float(ssim(pred01, target01).mean()),
            "accuracy": float((predict(pred01) == labels).float().mean())}


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    import genlab
    from genlab.data import load_dataset
    from genlab.viz import save_grid

    run = Path(args.out)
    model_options = dict(generator=args.generator, g_width=args.width, d_width=args.width, n_blocks=args.n_blocks,
                         lambda_identity=args.lambda_identity)
    budget = {"minutes": args.minutes} if args.minutes else {
        "steps": args.steps, "decay_start": args.steps // 2, "decay_steps": args.steps - args.steps // 2}
    timing = {}
    if not args.eval_only:
        load_dataset("edges2fashion")  # build (and cache) the edge maps outside the timed part
        t0, c0 = time.time(), cpu_seconds()
        result = genlab.train("cyclegan", data="edges2fashion", out=run, batch_size=args.batch_size, seed=args.seed,
                              log_every=50, sample_every=0, checkpoint_every=0, tensorboard=False, progress=False,
                              grid_size=8, **budget, **model_options)
        timing = {"wall_s": round(time.time() - t0, 1), "cpu_s": round(cpu_seconds() - c0, 1)}
        print(f"trained {result.step} steps ({timing}): {result.last_logs}", flush=True)
    elif (run / "results.json").is_file():  # keep the training run's measured timing
        timing = json.loads((run / "results.json").read_text()).get("timing", {})
    model = genlab.load(run)
    steps = int(sorted((run / "checkpoints").glob("step-*"))[-1].name.split("-")[1])
    test = load_dataset("edges2fashion", split="test").subset(args.n_test)
    edges01, items01, labels = test.a.float() / 255, test.b.float() / 255, test.tensors["y"]
    fake01 = model.translate(edges01, "AtoB")
    predict, classifier = fashion_classifier(args.threads)
    rows = {"translated (cyclegan)": score(fake01, items01, labels, predict),
            "untranslated edge maps": score(edges01, items01, labels, predict),
            "true items (classifier check)": {"accuracy": float((predict(items01) == labels).float().mean())}}
    k = 12
    grid = torch.cat([edges01[:k], fake01[:k], items01[:k]])
    save_grid(grid, args.grid, nrow=k)
    out = {"run": str(run), "budget": budget, "timing": timing, "threads": args.threads,
           "batch_size": args.batch_size, "model": model_options, "n_test": len(test), "classifier": classifier,
           "scores": rows,
           "steps": steps}
    (run / "results.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(rows, indent=2))
    print(f"classifier: {classifier}; {steps} training steps")
    for name, r in rows.items():
        if "mae" in r:
            print(f"| {name} | {r['mae']:.4f} | {r['ssim']:.4f} | {100 * r['accuracy']:.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
