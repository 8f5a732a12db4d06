"""Derive the version-2 shipped classifiers from the version-1 weights: features from three depths.

Version 2 keeps every trained weight of version 1 and changes only what the
extractor reads (``taps="multi"``: per-channel spatial mean and standard
deviation after conv blocks 1 and 2, plus the penultimate layer), with each
feature divided by its standard deviation on the classifier's own training
images.  The disturbance protocol (benchmarks/metric_validity.py, docs/metrics.md)
is what justified it.  Writes src/genlab/metrics/weights/<domain>-classifier.{safetensors,json}:

    python scripts/derive_multi_depth.py                  # both domains
    python scripts/derive_multi_depth.py --only fashion-mnist
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import platform
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "scripts"))

from genlab.metrics.extractors import ClassifierCNN, load_classifier  # noqa: E402
from train_classifiers import FASHION_ROOT, MNIST_ROOT, WEIGHTS_DIR, accuracy, domain_splits, feature_scale  # noqa: E402


def derive(domain: str, train_x: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor, splits: dict,
           out_dir: Path) -> None:
    from safetensors.torch import save_file

    v1 = load_classifier(domain, "v1")
    model = ClassifierCNN.from_config({**v1.meta, "taps": "multi"})
    model.load_state_dict(v1.model.state_dict(), strict=False)  # everything but feature_scale
    model.eval()
    model.feature_scale.copy_(feature_scale(model, train_x))
    acc, correct = accuracy(model, test_x, test_y)
    path = out_dir / f"{domain}-classifier.safetensors"
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={**v1.meta, **model.config()})
    info = dict(
        name=f"{domain}-classifier", version="v2", dataset=domain, derived_from=f"{domain}-classifier-v1",
        features="multi-depth: mean and std of each channel after conv blocks 1 and 2, then the 128-d penultimate "
                 "layer; each divided by its std on the training images",
        feature_dim=model.output_dim, **splits, test_accuracy=acc, test_correct=correct, test_examples=len(test_x),
        date=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d"), torch=torch.__version__,
        python=platform.python_version(), weights_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        script="scripts/derive_multi_depth.py",
    )
    (out_dir / f"{domain}-classifier.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"[{domain}] {model.output_dim}-d features, test accuracy {acc:.4f} -> {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["fashion-mnist", "mnist"])
    parser.add_argument("--fashion-root", type=Path, default=FASHION_ROOT)
    parser.add_argument("--mnist-root", type=Path, default=MNIST_ROOT)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    args = parser.parse_args(argv)
    for domain in [args.only] if args.only else ["fashion-mnist", "mnist"]:
        tx, _, vx, vy, splits = domain_splits(domain, args.fashion_root, args.mnist_root)
        derive(domain, tx, vx, vy, splits, args.out)


if __name__ == "__main__":
    main()
