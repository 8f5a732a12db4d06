"""Benchmark: VAE training throughput of genlab vs pythae, and their test NLLs.

Both libraries train the *same* networks: genlab's convolutional VAE encoder
and decoder (latent 16, width 32, BatchNorm) are wrapped as pythae
`BaseEncoder`/`BaseDecoder`, so only the training loops differ. Each library
trains through its own entry point (`genlab.training.Trainer`; pythae's `BaseTrainer`)
for the same number of Adam steps (lr 1e-3, batch 64) on the same first
images of Fashion-MNIST's train split, on one CPU thread. The timed span
starts with the data in memory and the model built (genlab's
`prepare_run`, pythae's tensors) and covers the trainer's setup, the loop and
the final save each library does; one-time imports are done before. Repeats
alternate between the libraries and the median is reported.

Afterwards, on Fashion-MNIST test images: genlab's `evaluate` (IWAE bound,
k samples) on its model; pythae's own `get_nll` (same k) on its model; and
genlab's IWAE code run on pythae's trained networks as a cross-check.

    .venv/bin/python benchmarks/vae_vs_pythae.py --steps 150 --repeats 3 \
        --out benchmarks/results/vae_vs_pythae.md
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GENLAB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)

import genlab  # noqa: E402
from genlab.data import load_dataset  # noqa: E402
from genlab.models.vae import VAE, VAEConfig  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=150, help="optimisation steps per training run")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--latent-dim", type=int, default=16)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--eval-n", type=int, default=500, help="test images for the NLL estimates")
    p.add_argument("--k", type=int, default=100, help="importance samples of the NLL estimates")
    p.add_argument("--out", default="benchmarks/results/vae_vs_pythae.md")
    p.add_argument("--epochs", default=None,
                   help="comma-separated epochs, e.g. 10,30: instead of the same-networks throughput run, "
                        "train each library's *default* VAE for that many epochs and compare NLL, FID, "
                        "precision, recall and images/s (results to benchmarks/results/vae_vs_pythae_epochs.*)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="with --epochs: override a genlab option (e.g. latent_dim=32) to try a candidate default")
    return p.parse_args()


# -- pythae side: genlab's networks behind pythae's interfaces --------------------------------
def pythae_model(genlab_vae: VAE):
    from pythae.models import VAE as PVAE
    from pythae.models import VAEConfig as PVAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    class Encoder(BaseEncoder):
        def __init__(self, net):
            BaseEncoder.__init__(self)
            self.net = net

        def forward(self, x):
            mu, logvar = self.net(x * 2 - 1)  # genlab's encoder sees [-1, 1] pixels
            return ModelOutput(embedding=mu, log_covariance=logvar)

    class Decoder(BaseDecoder):
        def __init__(self, net):
            BaseDecoder.__init__(self)
            self.net = net

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))  # pythae's BCE takes probabilities

    c, h, w = genlab_vae.image_shape
    config = PVAEConfig(input_dim=(c, h, w), latent_dim=genlab_vae.config.latent_dim, reconstruction_loss="bce")
    return PVAE(config, encoder=Encoder(genlab_vae.encoder), decoder=Decoder(genlab_vae.decoder))


def train_pythae(x01: torch.Tensor, args, out_dir: Path, seed: int):
    from pythae.data.datasets import BaseDataset
    from pythae.trainers import BaseTrainer, BaseTrainerConfig

    torch.manual_seed(seed)
    info = {"kind": "image", "shape": list(x01.shape[1:]), "num_classes": 0}
    nets = VAE(VAEConfig(latent_dim=args.latent_dim, width=args.width), info)
    model = pythae_model(nets)
    config = BaseTrainerConfig(output_dir=str(out_dir), num_epochs=1, per_device_train_batch_size=args.batch_size,
                               learning_rate=1e-3, optimizer_cls="Adam", no_cuda=True, seed=seed)
    dataset = BaseDataset(x01, torch.zeros(x01.shape[0]))
    start = time.perf_counter()
    trainer = BaseTrainer(model=model, train_dataset=dataset, training_config=config)
    trainer.train()
    seconds = time.perf_counter() - start
    return model, nets, seconds


def train_genlab(n_images: int, args, out_dir: Path, seed: int):
    from genlab.api import prepare_run
    from genlab.training import Trainer

    model, data, config = prepare_run("vae", data="fashion-mnist", limit=n_images, steps=args.steps,
                                      batch_size=args.batch_size, latent_dim=args.latent_dim, width=args.width,
                                      lr=1e-3, seed=seed, log_every=args.steps, sample_every=0,
                                      checkpoint_every=0, tensorboard=False, progress=False, device="cpu")
    start = time.perf_counter()
    result = Trainer(model, data, config, out_dir).fit()
    seconds = time.perf_counter() - start
    assert result.step == args.steps
    return genlab.load(out_dir), seconds


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return (f"{cpu}, {os.cpu_count()} cores visible, 1 torch thread; load average at start "
            f"{load[0]:.1f} (shared machine)")


def main() -> int:
    args = parse_args()
    if args.epochs:
        import yaml

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from vae_epochs import run

        torch.set_num_threads(os.cpu_count() or 1)
        overrides = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
        run([int(e) for e in args.epochs.split(",")], Path("benchmarks/results/vae_vs_pythae_epochs"),
            k=args.k, eval_n=args.eval_n, overrides=overrides)
        return 0
    from importlib.metadata import version

    logging.getLogger("pythae").setLevel(logging.ERROR)
    load_start = os.getloadavg()[0]
    n_images = args.steps * args.batch_size  # one pythae epoch == `steps` steps
    train = load_dataset("fashion-mnist", split="train").subset(n_images)
    x01 = (train.prepare()["x"] + 1) / 2
    test = load_dataset("fashion-mnist", split="test")

    # one-time costs outside the timings: creating the first optimizer imports torch._dynamo
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    import pythae.trainers  # noqa: F401
    import torchvision.utils  # noqa: F401  (genlab writes its end-of-run sample grid with it)

    times: dict[str, list[float]] = {"genlab": [], "pythae": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            g_model, t = train_genlab(n_images, args, Path(tmp) / f"genlab-{r}", seed=r)
            times["genlab"].append(t)
            print(f"repeat {r}: genlab {n_images / t:.0f} images/s", file=sys.stderr)
            p_model, p_nets, t = train_pythae(x01, args, Path(tmp) / f"pythae-{r}", seed=r)
            times["pythae"].append(t)
            print(f"repeat {r}: pythae {n_images / t:.0f} images/s", file=sys.stderr)

        # NLL estimates on test images (last repeat's models)
        g_eval = g_model.evaluate(test, n=args.eval_n, seed=0, k=args.k)
        p_model.eval()
        x_test, _ = g_model.eval_tensors(test, n=args.eval_n, seed=0)
        torch.manual_seed(0)
        t0 = time.perf_counter()
        with torch.no_grad():
            p_ll = p_model.get_nll(x_test, n_samples=args.k, batch_size=args.k)
        p_nll_seconds = time.perf_counter() - t0
        p_cross = p_nets.evaluate(test, n=args.eval_n, seed=0, k=args.k)

    med = {k: statistics.median(v) for k, v in times.items()}
    ips = {k: n_images / v for k, v in med.items()}
    params = sum(p.numel() for p in g_model.parameters())
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine().replace(f"{os.getloadavg()[0]:.1f}", f"{load_start:.1f}"),
        "torch": torch.__version__, "pythae": version("pythae"), "genlab": genlab.__version__,
        "steps": args.steps, "batch_size": args.batch_size, "latent_dim": args.latent_dim, "width": args.width,
        "parameters": params, "images": n_images, "repeats": args.repeats,
        "seconds": times, "images_per_s_median": ips, "ratio_genlab_over_pythae": ips["genlab"] / ips["pythae"],
        "nll": {"genlab_iwae": g_eval["nll_iwae"], "genlab_elbo": g_eval["elbo"],
                "pythae_get_nll": -float(p_ll), "pythae_nets_genlab_iwae": p_cross["nll_iwae"],
                "pythae_nets_genlab_elbo": p_cross["elbo"], "pythae_get_nll_seconds": p_nll_seconds},
        "eval_n": args.eval_n, "k": args.k,
        "command": "OMP_NUM_THREADS=1 .venv/bin/python " + " ".join([sys.argv[0]] + sys.argv[1:]),
    }
    write_report(results, Path(args.out))
    print(json.dumps(results, indent=1))
    return 0


def write_report(r: dict, out: Path) -> None:
    ips, nll = r["images_per_s_median"], r["nll"]
    secs = {k: ", ".join(f"{s:.1f}" for s in v) for k, v in r["seconds"].items()}
    text = f"""# VAE training throughput: genlab vs pythae

Written by `benchmarks/vae_vs_pythae.py` on {r['date']}.

- Command: `{r['command']}`
- Machine: {r['machine']}. The machine is shared with other jobs, so absolute
  numbers are noisy; the repeats alternate genlab/pythae so both see similar load.
- Versions: torch {r['torch']}, pythae {r['pythae']}, genlab {r['genlab']}.
- Same networks on both sides: genlab's conv VAE (latent {r['latent_dim']}, width {r['width']},
  BatchNorm, {r['parameters']:,} parameters) wrapped as pythae's encoder/decoder;
  Bernoulli/BCE likelihood, beta = 1, Adam lr 1e-3, batch {r['batch_size']},
  {r['steps']} steps on the first {r['images']:,} Fashion-MNIST training images
  (grey levels in [0, 1], not binarised), CPU, one thread.
- Timed: each library's trainer from construction to return (setup, loop, final
  save; data already in memory, one-time imports done before),
  {r['repeats']} repeats each, alternating, median.

| library | seconds per run ({r['repeats']} repeats) | median images/s |
|---|---|---|
| genlab `Trainer.fit` | {secs['genlab']} | {ips['genlab']:.0f} |
| pythae `BaseTrainer` | {secs['pythae']} | {ips['pythae']:.0f} |

**Ratio genlab / pythae: {r['ratio_genlab_over_pythae']:.2f}x** (images/s).

Test NLL after the last repeat's {r['steps']} steps, on {r['eval_n']} Fashion-MNIST test
images (seed 0), k = {r['k']} importance samples, nats per image (the BCE
"likelihood" of grey-level pixels, as both libraries train it; not a
normalised density of the 256-level data):

| model | estimator | NLL (nats) | -ELBO (nats) |
|---|---|---|---|
| genlab | genlab `evaluate` (IWAE) | {nll['genlab_iwae']:.2f} | {-nll['genlab_elbo']:.2f} |
| pythae | pythae `get_nll` | {nll['pythae_get_nll']:.2f} | |
| pythae | genlab IWAE code on pythae's trained networks | {nll['pythae_nets_genlab_iwae']:.2f} | {-nll['pythae_nets_genlab_elbo']:.2f} |

On the same trained pythae networks, pythae's `get_nll` and genlab's IWAE code
differ by {abs(nll['pythae_get_nll'] - nll['pythae_nets_genlab_iwae']):.2f} nats (independent Monte Carlo draws), a cross-check
of genlab's estimator. The two libraries' models (initial weights drawn with the same
seed; each library's own batch order and noise) land {abs(nll['genlab_iwae'] - nll['pythae_nets_genlab_iwae']):.2f} nats apart.
pythae's `get_nll` took {nll['pythae_get_nll_seconds']:.1f} s (it loops over the images one by one).

Per-repeat rates vary by up to a third on this shared machine, so a ratio
within about 0.8-1.25x means "the same speed": with identical networks, both
loops spend their time in the same PyTorch kernels.
"""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps(r, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
