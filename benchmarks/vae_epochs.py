"""Side-by-side of genlab's default VAE and pythae's default VAE at equal epochs.

Used by `benchmarks/vae_vs_pythae.py --epochs 10,30` (the issue-15 table). Each
library trains its *default* VAE on the 60,000 Fashion-MNIST training images
for E epochs from its own entry point (genlab: `prepare_run` + `Trainer`, which
also fits the default latent sampler at the end; pythae: `VAE(VAEConfig(
input_dim=(1, 28, 28)))` and `BaseTrainer` with `BaseTrainerConfig()`'s
defaults, i.e. its MLP networks, latent 10, MSE loss, Adam 1e-4, batch 64).
Timed: the trainer from construction to return; images/s = 60,000 E / seconds.

Test NLL, the same estimator for both: IWAE (k samples) of the 8-bit test
images, each decoder's likelihood integrated over the 256 grey-level bins, so
every model is scored as a probability of the same discrete data in nats:

- Gaussian (pythae's MSE is a Gaussian with std 1): Phi differences;
- Bernoulli on grey levels (genlab's default, pythae's "bce"): the continuous
  Bernoulli density (Loaiza-Ganem & Cunningham 2019), the normalised density
  on [0, 1] with the same shape as the cross-entropy, integrated with its CDF;
- discretised logistic: its own bins.

The first and last bins reach to the ends of the support. Samples: 10,000 per
model (genlab with its default sampler, pythae with its default N(0, I)
sampler), scored with `genlab.metrics.evaluate` against the training split and
against the test split.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

HALF = 0.5 / 255.0


def _edges(x01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    lo, hi = (x01 - HALF).clamp(min=0), (x01 + HALF).clamp(max=1)
    return lo, hi, x01 < HALF, x01 > 1 - HALF


def gaussian_bin_log_prob(mean: torch.Tensor, std: float, x01: torch.Tensor) -> torch.Tensor:
    """log P(bin of x) per pixel for N(mean, std^2); the end bins reach to -inf / +inf."""
    lo, hi, first, last = _edges(x01.double())
    m = mean.double()
    c_hi = torch.special.ndtr((hi - m) / std)
    c_lo = torch.special.ndtr((lo - m) / std)
    c_hi = torch.where(last, torch.ones_like(c_hi), c_hi)
    c_lo = torch.where(first, torch.zeros_like(c_lo), c_lo)
    return torch.log((c_hi - c_lo).clamp(min=1e-300))


def cb_cdf(lam: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """CDF of the continuous Bernoulli(lam) on [0, 1]: (lam^x (1-lam)^(1-x) + lam - 1) / (2 lam - 1)."""
    near_half = (lam - 0.5).abs() < 1e-4
    safe = torch.where(near_half, torch.full_like(lam, 0.4), lam)
    cdf = (torch.exp(x * torch.log(safe) + (1 - x) * torch.log1p(-safe)) + safe - 1) / (2 * safe - 1)
    return torch.where(near_half, x, cdf)  # lam = 1/2 is the uniform density


def bernoulli_bin_log_prob(logits: torch.Tensor, x01: torch.Tensor) -> torch.Tensor:
    """log P(bin of x) per pixel under the continuous Bernoulli with parameter sigmoid(logits)."""
    lo, hi, _, _ = _edges(x01.double())
    lam = torch.sigmoid(logits.double()).clamp(1e-12, 1 - 1e-12)
    return torch.log((cb_cdf(lam, hi) - cb_cdf(lam, lo)).clamp(min=1e-300))


@torch.no_grad()
def iwae_nll(encode, bin_log_prob, x01: torch.Tensor, k: int, seed: int = 0, batch: int = 100) -> float:
    """Mean over images of -log (1/k) sum_j P(x | z_j) p(z_j) / q(z_j | x), z_j ~ q(z | x), in nats."""
    gen = torch.Generator().manual_seed(seed)
    total = 0.0
    for i in range(0, x01.shape[0], batch):
        x = x01[i:i + batch]
        mu, logvar = encode(x)
        std = (0.5 * logvar).exp()
        rows = []
        for _ in range(k):
            eps = torch.randn(mu.shape, generator=gen)
            z = mu + eps * std
            ll = bin_log_prob(z, x).flatten(1).sum(1)
            log_pz = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(1)
            log_qz = -0.5 * (eps.pow(2) + math.log(2 * math.pi) + logvar).sum(1)
            rows.append(ll.double() + log_pz.double() - log_qz.double())
        log_px = torch.logsumexp(torch.stack(rows), 0) - math.log(k)
        total += float(-log_px.sum())
    return total / x01.shape[0]


def genlab_bin_log_prob(model):
    """z, x -> log P(bin of x | z) per pixel for a genlab VAE, by its likelihood."""
    from genlab.models.vae.model import discretized_logistic_log_prob

    def fn(z, x):
        out = model.decode(z)
        kind = model.config.likelihood
        if kind == "bernoulli":
            return bernoulli_bin_log_prob(out, x)
        if kind == "logistic":
            loc, log_scale = out.chunk(2, dim=1)
            return discretized_logistic_log_prob(loc, log_scale, x).double()
        return gaussian_bin_log_prob(out, float(model.log_sigma_value().exp()), x)
    return fn


def pythae_parts(model):
    """(encode, bin_log_prob) of a pythae VAE with its default MLP networks."""
    shape = model.input_dim

    def encode(x):
        out = model.encoder(x)
        return out.embedding, out.log_covariance

    def fn(z, x):
        rec = model.decoder(z)["reconstruction"].reshape(-1, *shape)
        if model.model_config.reconstruction_loss == "mse":
            return gaussian_bin_log_prob(rec, 1.0, x)  # pythae's MSE: 0.5 ||x - mu||^2, a std-1 Gaussian
        return bernoulli_bin_log_prob(torch.logit(rec.double().clamp(1e-7, 1 - 1e-7)), x)
    return encode, fn


def train_genlab(epochs: float, out_dir: Path, seed: int, overrides: dict, family: str = "vae"):
    import genlab
    from genlab.api import prepare_run
    from genlab.training import Trainer

    model, data, config = prepare_run(family, data="fashion-mnist", epochs=epochs, seed=seed, sample_every=0,
                                      checkpoint_every=0, tensorboard=False, progress=False, device="cpu",
                                      **overrides)
    start = time.perf_counter()
    Trainer(model, data, config, out_dir).fit()
    seconds = time.perf_counter() - start
    return genlab.load(out_dir), seconds


def train_pythae(x01: torch.Tensor, epochs: int, out_dir: Path, seed: int, loss: str = "mse"):
    from pythae.data.datasets import BaseDataset
    from pythae.models import VAE, VAEConfig
    from pythae.trainers import BaseTrainer, BaseTrainerConfig

    torch.manual_seed(seed)
    model = VAE(VAEConfig(input_dim=tuple(x01.shape[1:]), reconstruction_loss=loss))
    config = BaseTrainerConfig(output_dir=str(out_dir), num_epochs=epochs, no_cuda=True, seed=seed)
    start = time.perf_counter()
    BaseTrainer(model=model, train_dataset=BaseDataset(x01, torch.zeros(x01.shape[0])),
                training_config=config).train()
    seconds = time.perf_counter() - start
    model.eval()
    return model, seconds


@torch.no_grad()
def pythae_samples(model, n: int, seed: int) -> torch.Tensor:
    z = torch.randn(n, model.model_config.latent_dim, generator=torch.Generator().manual_seed(seed))
    return torch.cat([model.decoder(z[i:i + 1000])["reconstruction"].clamp(0, 1) for i in range(0, n, 1000)])


def score(images: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
    from genlab.metrics import evaluate

    out = {}
    for split, ref in (("train", "fashion-mnist"), ("test", "fashion-mnist:test")):
        extra = ["accuracy"] if labels is not None and split == "train" else []
        r = evaluate(images, reference=ref, metrics=["fid", "pr"] + extra, labels=labels if extra else None)
        out.update({f"{key}_{split}": float(r[key]) for key in ("fid", "precision", "recall")})
        if extra:
            out["accuracy"] = float(r["accuracy"])
    return out


def machine_line() -> str:
    import os
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


def run(epochs_list: list[int], out: Path, *, k: int = 100, eval_n: int = 2000, n_samples: int = 10000,
        seed: int = 0, overrides: dict | None = None, cvae: bool = True, pythae_losses: tuple[str, ...] = ("mse", "bce")) -> dict:
    """Train and score both libraries at each number of epochs; write out.json and out.md."""
    import json
    import os
    import tempfile
    from importlib.metadata import version

    import genlab
    from genlab.data import load_dataset

    train = load_dataset("fashion-mnist", split="train").prepare("cpu")
    x01 = ((train["x"].float() + 1) / 2).clamp(0, 1)
    test = load_dataset("fashion-mnist", split="test").prepare("cpu")
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(test["x"].shape[0], generator=gen)[:eval_n]
    x_test = ((test["x"][idx].float() + 1) / 2).clamp(0, 1)
    x_test = torch.round(x_test * 255) / 255  # exactly the 256 grey levels
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine_line(),
               "load_at_start": os.getloadavg()[0], "torch": torch.__version__, "pythae": version("pythae"),
               "genlab": genlab.__version__, "k": k, "eval_n": eval_n, "n_samples": n_samples,
               "overrides": overrides or {}, "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        for epochs in epochs_list:
            g_model, g_sec = train_genlab(epochs, Path(tmp) / f"genlab-{epochs}", seed, overrides or {})
            with torch.no_grad():
                g_model.eval()
                nll = iwae_nll(lambda x: g_model.encode(x), genlab_bin_log_prob(g_model), x_test, k, seed)
            default = g_model.config.sampler
            for sampler in [default] + [s for s in ("prior", "gmm") if s != default]:
                with torch.no_grad():
                    samples = g_model.sample(n_samples, seed=seed + 1, sampler=sampler)["images"]
                row = {"library": "genlab", "model": f"vae (defaults{', ' + str(overrides) if overrides else ''})",
                       "epochs": epochs, "seconds": g_sec, "images_per_s": 60000 * epochs / g_sec, "nll": nll,
                       "sampler": sampler, "default_sampler": sampler == default, **score(samples)}
                results["rows"].append(row)
                print(json.dumps(row), flush=True)
            if cvae:
                c_model, c_sec = train_genlab(epochs, Path(tmp) / f"cvae-{epochs}", seed, overrides, "cvae")
                labels = torch.arange(n_samples) % c_model.num_classes
                for sampler in [c_model.config.sampler] + [s for s in ("prior", "gmm") if s != c_model.config.sampler]:
                    with torch.no_grad():
                        samples = c_model.sample(n_samples, seed=seed + 1, labels=labels, sampler=sampler)["images"]
                    row = {"library": "genlab", "model": "cvae (defaults)", "epochs": epochs, "seconds": c_sec,
                           "images_per_s": 60000 * epochs / c_sec, "nll": None, "sampler": sampler,
                           "default_sampler": sampler == c_model.config.sampler, **score(samples, labels)}
                    results["rows"].append(row)
                    print(json.dumps(row), flush=True)
            for loss in pythae_losses:
                p_model, p_sec = train_pythae(x01, epochs, Path(tmp) / f"pythae-{loss}-{epochs}", seed, loss)
                encode, fn = pythae_parts(p_model)
                with torch.no_grad():
                    nll = iwae_nll(encode, fn, x_test, k, seed)
                    samples = pythae_samples(p_model, n_samples, seed + 1)
                row = {"library": "pythae", "model": "VAE (defaults)" if loss == "mse" else "VAE, reconstruction_loss='bce'",
                       "epochs": epochs, "seconds": p_sec, "images_per_s": 60000 * epochs / p_sec, "nll": nll,
                       "sampler": "prior", "default_sampler": True, **score(samples)}
                results["rows"].append(row)
                print(json.dumps(row), flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    out.with_suffix(".md").write_text(report(results))
    return results


def report(r: dict) -> str:
    lines = [
        "# genlab's default VAE vs pythae's default VAE at equal epochs",
        "",
        f"Written by `benchmarks/vae_vs_pythae.py --epochs ...` on {r['date']}; {r['machine']}; "
        f"load average at start {r['load_at_start']:.1f}; torch {r['torch']}, pythae {r['pythae']}, "
        f"genlab {r['genlab']}.",
        "",
        f"Fashion-MNIST, 60,000 training images. NLL: IWAE with k = {r['k']} on {r['eval_n']} test images (seed 0), "
        "each decoder's likelihood integrated over the 256 grey-level bins (nats per image; the same estimator "
        "and the same discrete data for every model, see `benchmarks/vae_epochs.py`). Samples: "
        f"{r['n_samples']:,} per model, the shipped Fashion-MNIST classifier's features (genlab's default "
        "extractor), against the training split and the test split.",
        "",
        "Rows in italics use a sampler other than the model's default (the sampler table). "
        "Precision and recall against the training split (test split in the JSON); accuracy: the "
        "classifier's agreement with the requested class (cvae).",
        "",
        "| epochs | library | model | sampler | images/s | test NLL (nats) | FID train | FID test | precision | recall | accuracy |",
        "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in r["rows"]:
        nll = "" if row["nll"] is None else f"{row['nll']:.1f}"
        acc = f"{row['accuracy']:.3f}" if "accuracy" in row else ""
        sampler = row["sampler"] if row.get("default_sampler", True) else f"*{row['sampler']}*"
        lines.append(f"| {row['epochs']} | {row['library']} | {row['model']} | {sampler} | "
                     f"{row['images_per_s']:,.0f} | {nll} | {row['fid_train']:.1f} | {row['fid_test']:.1f} | "
                     f"{row['precision_train']:.3f} | {row['recall_train']:.3f} | {acc} |")
    return "\n".join(lines) + "\n"
