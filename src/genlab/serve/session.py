"""The model behind the web page: everything the endpoints do, without HTTP.

Every method returns plain JSON-ready dicts; images are PNG data URLs. A lock
serialises calls, since the server may answer requests from several threads
and a model is not safe to run concurrently.
"""

from __future__ import annotations

from ..data.audio import wav_data_url

import base64
import inspect
import io
import math
import threading
from typing import Any

import torch
from PIL import Image

from ..capabilities import CodedLatents, LatentControls, LatentModel, TextDecoder, translation_directions
from ..data.sequences import decode_tokens
from ..errors import GenlabError
from ..io import ImageTooLarge, read_image
from ..latent import interpolate
from ..models.base import GenerativeModel
from ..viz import figure_png, make_grid, pyplot

#: latent dimensions given a slider when the family does not say otherwise
DEFAULT_SLIDERS = 8
MAX_SAMPLES = 64
MAX_STEPS = 16
MAX_UPLOAD_BYTES = 10 * 2**20
SEQUENCE_KINDS = ("sequence", "tokens", "text")


def png_data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def grid_png(images: torch.Tensor, nrow: int | None = None) -> bytes:
    """N x C x H x W images in [0, 1] -> PNG bytes of a grid (one image: itself)."""
    images = images.detach().float().cpu().clamp(0, 1)
    if images.shape[0] == 1:
        grid = images[0]
    else:
        nrow = nrow or max(1, math.ceil(math.sqrt(images.shape[0])))
        grid = make_grid(images, nrow=nrow, padding=2, pad_value=1.0)
    if images.shape[1] == 1:
        grid = grid[:1]  # make_grid repeats grey images to 3 channels; keep them grey
    arr = (grid * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    img = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


class ModelSession:
    """A loaded model and the operations the page offers."""

    def __init__(self, model: GenerativeModel, source: str = ""):
        self.model = model
        self.source = str(source)
        self.lock = threading.Lock()
        info = model.data_info or {}
        self.data_kind = str(info.get("kind", "image"))
        self.is_sequence = self.data_kind in SEQUENCE_KINDS
        self.class_names = self._class_names()
        self.accepts_z = isinstance(model, LatentModel) and "z" in inspect.signature(model.sample).parameters
        self._controls = self._build_controls()

    # -- description ------------------------------------------------------------------
    def _class_names(self) -> list[str]:
        if not self.model.conditional:
            return []
        n = self.model.num_classes
        names = list(self.model.data_info.get("class_names") or [])
        return [str(names[i]) if i < len(names) else str(i) for i in range(n)]

    def _latent(self, n: int, seed: int | None) -> torch.Tensor | None:
        try:
            return self.model.latent(n, self.model.make_generator(seed))
        except NotImplementedError:
            return None

    def _build_controls(self) -> list[dict[str, Any]]:
        if not self.accepts_z:
            return []
        if isinstance(self.model, LatentControls):
            controls = []
            for i, c in enumerate(self.model.latent_controls() or []):
                c = dict(c)
                lo, hi = float(c.get("min", -3.0)), float(c.get("max", 3.0))
                kind = str(c.get("kind", "latent"))
                default = float(c.get("default", (lo + hi) / 2))
                step = float(c.get("step", 1.0 if kind in ("categorical", "discrete") else (hi - lo) / 100 or 0.01))
                control = {"name": str(c.get("name", f"control{i}")), "min": lo, "max": hi, "default": default,
                           "kind": kind, "step": step}
                for key in ("index", "start", "size"):
                    if key in c:
                        control[key] = int(c[key])
                controls.append(control)
            return controls
        z = self._latent(1, 0)
        if z is None or z.numel() == 0:
            return []
        controls = []
        if isinstance(self.model, CodedLatents):  # named code slices (InfoGAN): one control each, then noise
            for code in self.model.latent_codes() or []:
                start, size = int(code["start"]), int(code.get("size", 1))
                if code.get("kind") == "categorical":
                    controls.append({"name": str(code["name"]), "min": 0.0, "max": float(size - 1), "default": 0.0,
                                     "kind": "categorical", "step": 1.0, "start": start, "size": size})
                else:
                    controls.append({"name": str(code["name"]), "min": -2.0, "max": 2.0, "default": 0.0,
                                     "kind": "continuous", "step": 0.05, "index": start})
        dims = min(DEFAULT_SLIDERS - len(controls) // 2, z[0].numel())
        controls += [{"name": f"z[{i}]", "min": -3.0, "max": 3.0, "default": 0.0, "kind": "latent", "step": 0.05,
                      "index": i} for i in range(dims)]
        return controls

    def directions(self) -> list[str]:
        return translation_directions(self.model) or []

    def info(self) -> dict[str, Any]:
        m = self.model
        shape = list(m.data_info.get("shape") or [])
        return {
            "family": m.family,
            "source": self.source,
            "data": m.data_info.get("name") or m.data_info.get("dataset") or "",
            "data_kind": self.data_kind,
            "output": "sequence" if self.is_sequence else "image",
            "shape": shape,
            "conditional": bool(m.conditional),
            "class_names": self.class_names,
            "controls": self._controls,
            "can_interpolate": self.accepts_z and self._latent(1, 0) is not None,
            "directions": self.directions(),
            "max_samples": MAX_SAMPLES,
        }

    # -- sampling ---------------------------------------------------------------------
    def _labels(self, label: int | None, n: int) -> Any:
        if label is None or label < 0 or not self.class_names:
            return None
        if label >= len(self.class_names):
            raise GenlabError(f"class {label} is out of range; this model has {len(self.class_names)} classes")
        return torch.full((n,), int(label), dtype=torch.long)

    def _apply(self, z: torch.Tensor, values: dict[str, float]) -> torch.Tensor:
        known = {c["name"]: c for c in self._controls}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise GenlabError(f"unknown control {unknown[0]!r}; this model's controls are {', '.join(known)}")
        clipped = {k: min(max(float(v), known[k]["min"]), known[k]["max"]) for k, v in values.items()}
        if isinstance(self.model, LatentControls):
            return self.model.apply_controls(z, clipped)
        z = z.clone()
        flat = z.reshape(z.shape[0], -1)
        for name, value in clipped.items():
            c = known[name]
            if "start" in c:  # a categorical code stored one-hot in z[start:start + size]
                flat[:, c["start"]:c["start"] + c["size"]] = 0
                flat[:, c["start"] + int(round(value))] = 1
            elif "index" in c:
                flat[:, c["index"]] = value
            else:
                raise GenlabError(f"control {name!r} has no index and the model has no apply_controls()")
        return flat.reshape(z.shape)

    def _control_values(self, z: torch.Tensor | None, given: dict[str, float]) -> dict[str, float]:
        out = {}
        flat = z.reshape(z.shape[0], -1) if z is not None else None
        for c in self._controls:
            if c["name"] in given:
                out[c["name"]] = float(given[c["name"]])
            elif "start" in c and flat is not None:
                out[c["name"]] = float(flat[0, c["start"]:c["start"] + c["size"]].argmax())
            elif "index" in c and flat is not None:
                out[c["name"]] = float(flat[0, c["index"]])
            else:
                out[c["name"]] = c["default"]
        return out

    def generate(self, seed: int = 0, n: int = 16, label: int | None = None,
                 values: dict[str, float] | None = None) -> dict[str, Any]:
        n = int(min(max(n, 1), MAX_SAMPLES))
        with self.lock:
            labels = self._labels(label, n)
            kwargs: dict[str, Any] = {"seed": int(seed), "labels": labels}
            z = None
            if self._controls:
                z = self._latent(n, seed)
                if values:
                    z = self._apply(z, values)
                kwargs["z"] = z
            samples = self.model.sample(n, **kwargs)
        out = self._render(samples)
        out.update(seed=int(seed), n=n, values=self._control_values(z, values or {}))
        return out

    def interpolate(self, seed_a: int = 0, seed_b: int = 1, steps: int = 8,
                    label: int | None = None) -> dict[str, Any]:
        steps = int(min(max(steps, 2), MAX_STEPS))
        with self.lock:
            za, zb = self._latent(1, seed_a), self._latent(1, seed_b)
            if za is None or not self.accepts_z:
                raise GenlabError(f"{self.model.family} has no latent space to interpolate in")
            z = interpolate(za[0], zb[0], steps, "slerp")
            if label is None or label < 0:
                labels = None if not self.class_names else self.model.check_labels(
                    None, 1, self.model.make_generator(seed_a)).expand(steps)
            else:
                labels = self._labels(label, steps)
            samples = self.model.sample(steps, seed=int(seed_a), labels=labels, z=z)
        out = self._render(samples, nrow=steps)
        out.update(seed_a=int(seed_a), seed_b=int(seed_b), steps=steps)
        return out

    def translate(self, data: bytes, direction: str | None = None) -> dict[str, Any]:
        """Translate an uploaded image; it is converted to the direction's input channels and size."""
        dirs = self.directions()
        if not dirs:
            raise GenlabError(f"{self.model.family} does not translate images; serve a translation model (cyclegan)")
        direction = direction or dirs[0]
        if direction not in dirs:
            raise GenlabError(f"unknown direction {direction!r}; valid directions: {', '.join(dirs)}")
        if len(data) > MAX_UPLOAD_BYTES:
            raise GenlabError(f"the upload is over {MAX_UPLOAD_BYTES // 2**20} MiB; upload an image under "
                              f"{MAX_UPLOAD_BYTES // 2**20} MiB")
        c, h, w = self.model.shapes(direction)[1]
        try:
            x = read_image(io.BytesIO(data), "the upload", channels=c, size=(h, w)).to(self.model.device)
        except ImageTooLarge:
            raise
        except GenlabError:
            raise GenlabError("the upload is not an image PIL can read; upload a PNG or JPEG") from None
        with self.lock, torch.no_grad():
            y = self.model.translate(x, direction)
        if isinstance(y, dict):
            y = y.get("images")
        return {"input": png_data_url(grid_png(x)), "image": png_data_url(grid_png(y.float().clamp(0, 1))),
                "direction": direction}

    # -- rendering --------------------------------------------------------------------
    def _render(self, samples: dict[str, Any], nrow: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        labels = samples.get("labels")
        if labels is not None:
            labels = [int(v) for v in torch.as_tensor(labels).reshape(-1).tolist()]
            out["labels"] = labels
            if self.class_names:
                out["label_names"] = [self.class_names[i] if 0 <= i < len(self.class_names) else str(i)
                                      for i in labels]
        if samples.get("images") is not None:
            out["image"] = png_data_url(grid_png(samples["images"], nrow=nrow))
            return out
        text = self._as_text(samples)
        if text is not None:
            out["text"] = text
        seq = samples.get("sequences")
        if seq is not None and torch.is_tensor(seq) and seq.is_floating_point():
            out["image"] = png_data_url(plot_sequences(seq))
            if self.model.data_info.get("music"):  # note events: the page plays them

                try:
                    out["audio"] = wav_data_url(seq, self.model.data_info)
                except GenlabError as exc:
                    out["audio_error"] = str(exc)
        if "image" not in out and "text" not in out:
            raise GenlabError(f"cannot show {self.model.family} samples (keys: {', '.join(samples)})")
        return out

    def _as_text(self, samples: dict[str, Any]) -> list[str] | None:
        if "text" in samples:
            return [str(t) for t in samples["text"]]
        tokens = samples.get("tokens")
        if tokens is None:
            seq = samples.get("sequences")
            if seq is None or (torch.is_tensor(seq) and seq.is_floating_point()):
                return None
            tokens = seq
        if isinstance(self.model, TextDecoder):
            return [str(t) for t in self.model.decode_text(tokens)]
        vocab = self.model.data_info.get("vocab") or self.model.data_info.get("alphabet")
        if vocab:
            try:  # genlab's own token datasets: stop at EOS/PAD, drop BOS
                return [str(t) for t in decode_tokens(torch.as_tensor(tokens), self.model.data_info)]
            except (KeyError, ValueError):
                pass
        rows = torch.as_tensor(tokens).tolist()
        if vocab:
            sep = "" if all(len(str(v)) <= 1 for v in vocab) else " "
            return [sep.join(str(vocab[t]) for t in row if 0 <= t < len(vocab)) for row in rows]
        return [" ".join(str(t) for t in row) for row in rows]


def plot_sequences(seq: torch.Tensor, max_lines: int = 16) -> bytes:
    """N x T (x D) float sequences -> PNG of line plots (first feature of each)."""
    plt = pyplot()
    seq = seq.detach().float().cpu()
    if seq.dim() == 3:
        seq = seq[..., 0]
    seq = seq.reshape(seq.shape[0], -1)[:max_lines]
    fig, ax = plt.subplots(figsize=(6, 3), dpi=100)
    for row in seq:
        ax.plot(row.numpy(), linewidth=1)
    ax.set_xlabel("time step")
    ax.set_ylabel("value")
    fig.tight_layout()
    return figure_png(fig)
