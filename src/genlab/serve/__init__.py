"""`genlab serve`: a local web page to explore a trained model.

`ModelSession` holds the model and does the work (sampling with a seed, a
class and latent controls, interpolation, image translation, sequence
samples); `create_app` wraps it in a small FastAPI app that serves a
hand-written page (no CDN, works offline) and JSON endpoints returning PNGs
as data URLs; `serve` runs that app with uvicorn.

Families plug in through the capabilities of `genlab.capabilities`:

- ``latent_controls() -> [{"name", "min", "max", "default", "kind", ...}]``
  replaces the default sliders (the first 8 dimensions of ``latent()``); a
  control with an ``"index"`` sets that dimension of z, one with ``"start"``
  and ``"size"`` sets a one-hot block, otherwise the family applies the
  values itself with ``apply_controls(z, {name: value}) -> z`` (`LatentControls`);
- ``latent_codes() -> [{"name", "kind", "start", "size"}]`` (InfoGAN's named
  code slices, `CodedLatents`) gives one slider per code before a few noise sliders;
- a `Translator` (``translate(images01, direction)``, ``shapes(direction)``,
  ``directions``) adds the image upload panel; an upload is converted to the
  chosen direction's input channels and size;
- sequence families (data kind ``sequence``/``tokens``) return
  ``"sequences"`` or ``"tokens"`` (or ``"text"``) from ``sample()``, shown
  as a plot or as text (a `TextDecoder`'s ``decode_text(tokens) -> [str]``
  or ``data_info["vocab"]`` turns tokens into text).
"""

from ..extras import require
from .session import ModelSession

__all__ = ["ModelSession", "create_app", "serve"]


def _need_server_deps():
    require("serve", "genlab serve")


def create_app(session: ModelSession, hosts: list[str] | None = None, latents=None):
    _need_server_deps()
    from .app import create_app as _create  # noqa: PLC0415  (app.py imports the optional serve extra)

    return _create(session, hosts, latents)


def serve(run: str, host: str = "127.0.0.1", port: int = 7860, device: str = "cpu",
          allow_hosts: list[str] | tuple[str, ...] = (), latents: str | None = None) -> None:
    _need_server_deps()
    from .app import serve as _serve  # noqa: PLC0415  (app.py imports the optional serve extra)

    _serve(run, host=host, port=port, device=device, allow_hosts=allow_hosts, latents=latents)
