"""`genlab encode RUN [--data D] [--split test] --out latents.npz`: latent codes of real data.

For the VAE families (vae, cvae, seqvae): the posterior mean ``mu`` and
log-variance ``logvar`` of every item of a dataset split (N x latent_dim) and
its ``labels``, as an .npz (see genlab.latents). ``genlab serve RUN --latents
latents.npz`` draws them as a scatter. A GAN has no encoder and is refused.
"""

from __future__ import annotations

from ..api import load
from ..data import heldout_data, load_dataset
from ..errors import GenlabError
from ..explore.vae import train_settings
from ..latents import encode, encoder_kind, write_latents


def add_parser(sub) -> None:
    p = sub.add_parser("encode", help="latent codes (means, log-variances, labels) of a dataset, VAE families",
                       description="Encode a dataset split with a vae, cvae or seqvae into an .npz of posterior "
                                   "means, log-variances and labels.")
    p.add_argument("run", help="run folder or checkpoint folder of a vae, cvae or seqvae")
    p.add_argument("--data", default=None, help="dataset to encode (default: the one the model was trained on)")
    p.add_argument("--split", default="test", help="split to encode (default test)")
    p.add_argument("--data-root", default=None, help="where the dataset lives (default: the run's --data-root)")
    p.add_argument("--limit", type=int, default=None, help="encode only the first N items")
    p.add_argument("--out", required=True, help="the .npz to write, e.g. latents.npz")
    p.add_argument("--device", default="cpu")
    p.set_defaults(handler=run)


def load_data(model, args):
    saved = train_settings(args.run)
    trained_on = model.data_info.get("dataset") or saved.get("data")
    root = args.data_root or saved.get("data_root")
    if model.data_info.get("kind", "image") != "image":  # sequences keep the run's loader, scaling and vocabulary
        if args.data and args.data != trained_on:
            raise GenlabError(f"a {model.family} encodes only the data it was trained on ({trained_on}), whose "
                              f"scaling or characters it learned; drop --data or pass --data {trained_on}")
        return heldout_data(model.data_info, args.split, root), trained_on
    name = args.data or trained_on
    if not name:
        raise GenlabError("cannot tell which dataset this model was trained on; pass --data NAME")
    return load_dataset(name, root=root, split=args.split, image_size=model.image_shape[-1]), name


def run(args) -> int:
    if args.limit is not None and args.limit < 1:
        raise GenlabError(f"--limit must be at least 1 (got {args.limit})")
    if not str(args.out).endswith(".npz"):
        raise GenlabError(f"--out {args.out!r} must be an .npz file, e.g. latents.npz")
    model = load(args.run, device=args.device)
    encoder_kind(model)  # refuse a GAN before loading any data
    data, name = load_data(model, args)
    arrays = encode(model, data, limit=args.limit)
    path = write_latents(args.out, arrays, family=model.family, dataset=str(name), split=args.split)
    n, d = arrays["mu"].shape
    labels = ", labels" if "labels" in arrays else ""
    print(f"wrote {path}: {n} codes of {d} dimensions (mu, logvar{labels}) of the {args.split} split of {name}")
    return 0
