"""Image completion on Fashion-MNIST: trained models against mean fill, on a hidden box.

Takes `--n` test images (a seeded random choice of the 10,000), hides a box
(`--mask`, default the central 14 x 14: box:7,7,14,14) and fills it with

- mean fill (train): the per-pixel mean of the 60,000 training images;
- mean fill (visible): the mean of the image's own visible pixels;
- each `--runs` model through `genlab.inpainting.complete` (a VAE iterates
  encode-decode `--iterations` times; a GAN optimises `--restarts` latent
  codes per image for `--steps` Adam steps with the prior term `--prior`).

Scores (genlab.inpainting.scores): MAE on the hidden pixels (lower is
better), SSIM of the hidden box (higher is better), and the accuracy of the
shipped Fashion-MNIST classifier (`fashion-mnist-classifier`, 92.7% on the
whole test split) on the completed images against their true labels (higher
is better). Writes benchmarks/results/inpainting.json, the Markdown table
docs/results/inpainting.md and an example grid docs/inpainting/examples.png.

    python benchmarks/inpainting.py --runs vae=runs/vae,dcgan=runs/dcgan --n 1000
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

import genlab
from genlab.data import load_dataset
from genlab.viz import save_grid
from genlab.inpainting import complete, hidden_scores, mean_fill, parse_mask
from genlab.metrics import get_extractor
from genlab.models.vae.model import VAE
from genlab.training.checkpoint import resolve

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent / "docs"


def unit(x: torch.Tensor) -> torch.Tensor:
    return x.float() / 255 if not x.is_floating_point() else (x.float() + 1) / 2


def score(name: str, images: torch.Tensor, truth: torch.Tensor, labels: torch.Tensor, visible: torch.Tensor,
          classifier, seconds: float | None = None, **extra) -> dict:
    s = hidden_scores(images, truth, visible)
    predicted = classifier.extract(images).logits.argmax(1)
    row = {"method": name, "mae": float(s["mae"].mean()), "ssim": float(s["ssim"].mean()),
           "accuracy": float((predicted == labels).float().mean()), **extra}
    if seconds is not None:
        row["seconds"] = round(seconds, 1)
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", required=True, help="name=RUN pairs, comma-separated, e.g. vae=runs/vae,dcgan=runs/dcgan")
    ap.add_argument("--n", type=int, default=1000, help="test images")
    ap.add_argument("--mask", default="box:7,7,14,14")
    ap.add_argument("--iterations", type=int, default=50)
    ap.add_argument("--restarts", type=int, default=8)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--prior", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(HERE / "results" / "inpainting.json"))
    ap.add_argument("--table", default=str(DOCS / "results" / "inpainting.md"))
    ap.add_argument("--grid", default=str(DOCS / "inpainting" / "examples.png"))
    args = ap.parse_args()

    test = load_dataset("fashion-mnist", split="test").prepare("cpu")
    pick = torch.randperm(test["x"].shape[0], generator=torch.Generator().manual_seed(args.seed))[:args.n]
    truth, labels = unit(test["x"][pick]), test["y"][pick].long()
    train_mean = unit(load_dataset("fashion-mnist").prepare("cpu")["x"]).mean(0)
    visible = parse_mask(args.mask, *truth.shape[-2:])
    classifier = get_extractor("fashion-mnist-classifier")

    rows = [score("original images (no pixels hidden)", truth, truth, labels, visible, classifier),
            score("mean fill (train): per-pixel mean of the training images", mean_fill(truth, visible, train_mean),
                  truth, labels, visible, classifier),
            score("mean fill (visible): mean of the image's visible pixels", mean_fill(truth, visible),
                  truth, labels, visible, classifier)]
    shown = [truth[:8] * visible + 0.5 * ~visible]
    for pair in args.runs.split(","):
        name, run = pair.split("=", 1)
        model = genlab.load(run)
        options = dict(iterations=args.iterations, restarts=args.restarts, steps=args.steps, prior=args.prior,
                       seed=args.seed, fill=train_mean)
        t0 = time.perf_counter()
        done = complete(model, truth, visible, **options)
        seconds = time.perf_counter() - t0
        assert torch.equal(done * visible, truth * visible), "visible pixels changed"
        how = (f"{args.iterations} encode-decode iterations" if isinstance(model, VAE)
               else f"{args.restarts} restarts x {args.steps} Adam steps, prior {args.prior:g}")
        checkpoint = resolve(Path(run)).name
        rows.append(score(f"**{name}** ({model.family} {checkpoint}; {how})", done, truth, labels, visible,
                          classifier, seconds, run=str(run), family=model.family, checkpoint=checkpoint,
                          command=model.provenance.get("command")))
        shown.append(done[:8])
    shown.append(truth[:8])

    result = {"n": args.n, "mask": args.mask, "seed": args.seed, "machine": platform.processor() or platform.machine(),
              "torch_threads": torch.get_num_threads(), "rows": rows,
              "command": "python benchmarks/inpainting.py " + " ".join(
                  f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                  if k in ("runs", "n", "mask", "iterations", "restarts", "steps", "prior", "seed"))}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    save_grid(torch.cat(shown), args.grid, nrow=8)
    lines = ["| method | MAE, hidden pixels (lower is better) | SSIM, hidden box (higher is better) | "
             "classifier accuracy (higher is better) | seconds |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['mae']:.4f} | {r['ssim']:.4f} | {100 * r['accuracy']:.1f}% | "
                     f"{r.get('seconds', '-')} |")
    Path(args.table).parent.mkdir(parents=True, exist_ok=True)
    Path(args.table).write_text(document(result, "\n".join(lines), args))
    print("\n".join(lines))


def document(result: dict, table: str, args) -> str:
    """docs/results/inpainting.md: what was measured, the command, the table, the models' commands."""
    models = "\n".join(f"- {r['method'].split(' (')[0]}: `{r['command']}`" for r in result["rows"] if r.get("command"))
    grid = Path(args.grid).relative_to(DOCS) if Path(args.grid).is_relative_to(DOCS) else args.grid
    return f"""# Image completion (inpainting) on Fashion-MNIST

Written by `benchmarks/inpainting.py`; rerun it to reproduce:

```bash
{result['command']}
```

{result['n']} Fashion-MNIST test images (a seeded random choice of the 10,000), each with the box
`{result['mask']}` hidden (x, y, width, height in pixels: the central 14 x 14 for the default). The
two **mean fill** rows are the baselines; the bold rows are trained models through
`genlab inpaint`'s code (`genlab.inpainting.complete`). Scores: mean absolute error on the hidden
pixels, SSIM of the hidden box (11 x 11 Gaussian window), and the shipped Fashion-MNIST classifier's
accuracy on the completed images against the true labels (the first row: on the untouched images).
Every completion keeps the visible pixels exactly (checked). "seconds" is the wall-clock time of
the completions on {result['machine']} with {result['torch_threads']} torch threads.

{table}

The models were trained with:

{models}

![masked inputs, completions, originals]({grid})

*Rows: masked inputs (hidden box grey), then each model's completions in the table's order, then
the original images.*
"""


if __name__ == "__main__":
    main()
