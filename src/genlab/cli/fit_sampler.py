"""`genlab fit-sampler RUN [--components K] [--limit N]`: fit a VAE's latent sampler after training.

Fits the Gaussian mixture that `genlab sample` draws z from (the vae and cvae
default, ``sampler: gmm``) on the posterior means of up to N training images,
and writes it into the run's newest checkpoint and RUN/best/ (see
genlab/samplers.py). Training does this by itself at its end; this command
is for runs trained before, runs trained with ``--sampler prior``, another
number of components, or a sampler file that loading refused.
"""

from __future__ import annotations

from ..models.latent_sampler import DEFAULT_LIMIT
from ..samplers import fit_sampler


def add_parser(sub) -> None:
    p = sub.add_parser("fit-sampler", help="fit a vae/cvae's latent sampler (Gaussian mixture) on its training codes")
    p.add_argument("run", help="run folder, checkpoint folder or pretrained folder")
    p.add_argument("--components", type=int, default=None,
                   help="mixture components (per class for the cvae; default: the run's sampler_components, 10)")
    p.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="training images to encode, at most")
    p.add_argument("--seed", type=int, default=0, help="seed of the image draw and of the mixture's initialisation")
    p.add_argument("--data-root", default=None)
    p.add_argument("--device", default="cpu")
    p.set_defaults(handler=run)


def run(args) -> int:
    for fitted in fit_sampler(args.run, components=args.components, limit=args.limit, seed=args.seed,
                              data_root=args.data_root, device=args.device):
        info = fitted.info
        per = " per class" if info.get("classes") else ""
        print(f"fitted a {max(info['components'])}-component Gaussian mixture{per} on {sum(info['codes']):,} "
              f"training codes; wrote {fitted.folder}/sampler.safetensors and sampler.json")
        if fitted.configured != "gmm":
            print(f"note: {fitted.folder} samples from its {fitted.configured} by default; "
                  f"use genlab sample --sampler gmm")
    return 0
