"""`genlab serve RUN [--port 7860] [--host 127.0.0.1]`: a local web page to explore a model."""

from __future__ import annotations

from ..serve import serve


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="explore a trained model in a local web page",
                       description="Serve a page to sample with a seed and a class, move latent sliders, "
                                   "interpolate between seeds and translate uploaded images.")
    p.add_argument("run", help="run folder or checkpoint folder")
    p.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; the page has no login)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also answer requests for this host name (repeatable; the page answers only localhost "
                        "names and the --host address, against DNS rebinding)")
    p.add_argument("--latents", default=None, metavar="FILE",
                   help="an .npz from `genlab encode` of this run: the page draws it as a latent scatter")
    p.add_argument("--device", default="cpu")
    p.set_defaults(handler=run)


def run(args) -> int:
    serve(args.run, host=args.host, port=args.port, device=args.device,
          allow_hosts=getattr(args, "allow_host", None) or (), latents=getattr(args, "latents", None))
    return 0
