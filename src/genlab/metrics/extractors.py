"""Feature extractors: map image batches to feature vectors (and, when they can, logits).

Every extractor takes float images in [0, 1] shaped N x C x H x W (uint8 batches
are divided by 255) and converts channels and size to what its network needs.

Registered names (see `EXTRACTORS`):

* ``fashion-mnist-classifier`` / ``mnist-classifier``: small CNNs trained by
  scripts/train_classifiers.py and shipped in ``genlab/metrics/weights``;
  128-d penultimate features plus 10-class logits.
* ``inception``: torch-fidelity's InceptionV3 (2048-d pool features, 1008
  logits), only when its weights file is already on disk; genlab never downloads it.
* ``domain-<hash>``: a small CNN trained on some reference data on first use
  (`genlab.metrics.domain`), read from the cache.

Anything else given to `get_extractor` is a user extractor: an `nn.Module` or
callable mapping a float batch to features (a tensor, a (features, logits)
pair, or a dict with "features" and optionally "logits"), or a string
"module.path:attribute" naming one (a class there is instantiated with no arguments).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load as load_tensors
from torch import nn

from ..modes import evaluating
from ..registry import Registry
from .errors import MetricsError

# --------------------------------------------------------------------- network


def _conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class ClassifierCNN(nn.Module):
    """Small CNN for 28x28 grey images in [0, 1]: five 3x3 conv layers, global pooling, 2 linear layers.

    `forward(x)` returns the logits.  `features(x)` depends on `taps`:

    * ``"embed"`` (the first shipped weights): the penultimate layer
      (`feature_dim`-d, before its ReLU, so no dead dimensions);
    * ``"multi"``: features from three depths, concatenated: the spatial mean
      and standard deviation of every channel after the first and second conv
      blocks (edges and textures: these see blur and noise that a classifier's
      last layer is trained to ignore), then the penultimate layer; each
      dimension divided by its standard deviation on the training set
      (`feature_scale`, stored with the weights) so that no depth dominates.

    About 157k parameters with the defaults.
    """

    TAPS = ("embed", "multi")

    def __init__(self, num_classes: int = 10, widths: tuple[int, int, int] = (32, 64, 128), feature_dim: int = 128,
                 taps: str = "embed"):
        super().__init__()
        if taps not in self.TAPS:
            raise MetricsError(f"unknown classifier taps {taps!r}; valid: {', '.join(self.TAPS)}")
        a, b, c = widths
        self.num_classes, self.widths, self.feature_dim, self.taps = num_classes, tuple(widths), feature_dim, taps
        self.body = nn.Sequential(
            *_conv_block(1, a), *_conv_block(a, a), nn.MaxPool2d(2),
            *_conv_block(a, b), *_conv_block(b, b), nn.MaxPool2d(2),
            *_conv_block(b, c), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )  # fmt: skip
        self.embed = nn.Sequential(nn.Linear(c, feature_dim))
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(feature_dim, num_classes)
        if taps == "multi":
            self.register_buffer("feature_scale", torch.ones(self.output_dim))

    # Indices in `body` after which the "multi" taps read the activations (end of conv blocks 1 and 2).
    _TAP_AFTER = (5, 12)

    @property
    def output_dim(self) -> int:
        a, b, _ = self.widths
        return self.feature_dim + (2 * (a + b) if self.taps == "multi" else 0)

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = x * 2.0 - 1.0
        taps: list[torch.Tensor] = []
        for i, layer in enumerate(self.body):
            h = layer(h)
            if self.taps == "multi" and i in self._TAP_AFTER:
                flat = h.flatten(2)
                taps += [flat.mean(2), flat.std(2)]
        feats = self.embed(h)  # pre-activation: no dead (all-zero) dimensions
        logits = self.head(self.dropout(F.relu(feats)))
        if self.taps == "multi":
            feats = torch.cat([*taps, feats], dim=1) * self.feature_scale
        return feats, logits

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x)[1]

    def config(self) -> dict[str, str]:
        """Architecture as string metadata, stored in the weights file."""
        return {
            "num_classes": str(self.num_classes),
            "widths": ",".join(map(str, self.widths)),
            "feature_dim": str(self.feature_dim),
            "taps": self.taps,
        }

    @classmethod
    def from_config(cls, meta: dict[str, str]) -> ClassifierCNN:
        widths = tuple(int(w) for w in meta["widths"].split(","))
        return cls(int(meta["num_classes"]), widths, int(meta["feature_dim"]), meta.get("taps", "embed"))  # type: ignore[arg-type]


# ---------------------------------------------------------------- extractors


@dataclass
class Features:
    """Output of `FeatureExtractor.extract`: float32 CPU tensors, logits None if unavailable."""

    features: torch.Tensor
    logits: torch.Tensor | None


def to_float_images(images: Any) -> torch.Tensor:
    """A batch as a float32 tensor in [0, 1]; uint8 is divided by 255, floats are kept."""
    x = torch.as_tensor(images)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4:
        raise MetricsError(f"images must be N x C x H x W (or N x H x W), got shape {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x.float() / 255.0
    if not x.is_floating_point():
        raise MetricsError(f"images must be uint8 or float in [0, 1], got dtype {x.dtype}")
    x = x.float()
    if x.numel() and (float(x.min()) < -1e-3 or float(x.max()) > 1 + 1e-3):
        raise MetricsError(
            f"float images must be in [0, 1], got values in [{float(x.min()):.3g}, {float(x.max()):.3g}] "
            "(map [-1, 1] model outputs with (x + 1) / 2)"
        )
    return x


def convert_images(x: torch.Tensor, channels: int | None, size: tuple[int, int] | None) -> torch.Tensor:
    """Convert float N x C x H x W images to `channels` (1 or 3) and `size` (H, W)."""
    if channels is not None and x.shape[1] != channels:
        if x.shape[1] == 4:  # drop alpha
            x = x[:, :3]
        if channels == 1 and x.shape[1] == 3:
            x = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
        elif channels == 3 and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[1] != channels:
            raise MetricsError(f"cannot convert {x.shape[1]}-channel images to {channels} channels")
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False, antialias=True)
    return x


class FeatureExtractor(nn.Module):
    """Base class.  Subclasses implement `compute(x)` on prepared float batches.

    Attributes: `name` (stable, used in cache keys), `input_channels` and
    `input_size` (None = leave as given), `weights_hash` (identifies the weights).
    """

    name: str = "extractor"
    input_channels: int | None = None
    input_size: tuple[int, int] | None = None

    @property
    def weights_hash(self) -> str:
        return state_dict_hash(self)

    def compute(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return convert_images(x, self.input_channels, self.input_size)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.compute(self.prepare(to_float_images(images)))

    @torch.no_grad()
    def extract(self, images: Any, *, batch_size: int = 256, device: str | torch.device = "cpu") -> Features:
        """Features (and logits) of all images, computed in batches on `device`."""
        if isinstance(images, np.ndarray):
            images = torch.from_numpy(images)
        if not isinstance(images, torch.Tensor):
            raise MetricsError(f"images must be a tensor or array, got {type(images).__name__}")
        if len(images) == 0:
            raise MetricsError("no images to extract features from")
        with evaluating(self.to(device)):
            feats: list[torch.Tensor] = []
            logits: list[torch.Tensor] = []
            for start in range(0, len(images), batch_size):
                batch = images[start : start + batch_size].to(device)
                f, lg = self(batch)
                feats.append(f.reshape(len(f), -1).float().cpu())
                if lg is not None:
                    logits.append(lg.reshape(len(lg), -1).float().cpu())
        return Features(torch.cat(feats), torch.cat(logits) if logits else None)


def state_dict_hash(module: nn.Module) -> str:
    """sha256 (16 hex digits) over a module's parameters and buffers, "none" if it has none."""
    digest = hashlib.sha256()
    state = module.state_dict()
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        digest.update(key.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()[:16] if state else "none"


class ClassifierExtractor(FeatureExtractor):
    """A shipped domain classifier (ClassifierCNN) as an extractor."""

    input_channels = 1
    input_size = (28, 28)

    def __init__(self, name: str, model: ClassifierCNN, weights_hash: str, meta: dict[str, str] | None = None):
        super().__init__()
        self.name, self.model, self._weights_hash, self.meta = name, model, weights_hash, dict(meta or {})
        self.num_classes = model.num_classes
        self.eval()

    @property
    def weights_hash(self) -> str:
        return self._weights_hash

    def compute(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        # channels_last roughly doubles CPU convolution throughput for these small images.
        return self.model.features_and_logits(x.contiguous(memory_format=torch.channels_last))


CLASSIFIER_DOMAINS = ("fashion-mnist", "mnist")


def classifier_weights_file(domain: str, version: str = ""):
    """The shipped weights resource for a domain ("fashion-mnist" or "mnist") and version ("" current, "v1")."""
    suffix = f"-{version}" if version else ""
    return resources.files(__package__).joinpath("weights", f"{domain}-classifier{suffix}.safetensors")


def safetensors_metadata(data: bytes) -> dict[str, str]:
    """The string metadata of a safetensors file given as bytes (header: u64 length + JSON)."""
    length = int.from_bytes(data[:8], "little")
    return dict(json.loads(data[8 : 8 + length]).get("__metadata__", {}))


def load_classifier(domain: str, version: str = "") -> ClassifierExtractor:
    """Load a shipped domain classifier from the package data (no network, no dataset).

    `version` "" is the current weights; "v1" the first weights (kept so that figures published with
    them can be reproduced: see docs/metrics.md).
    """
    suffix = f"-{version}" if version else ""
    resource = classifier_weights_file(domain, version)
    try:
        data = resource.read_bytes()
    except (FileNotFoundError, OSError):
        raise MetricsError(
            f"shipped weights {domain}-classifier{suffix}.safetensors are missing from genlab.metrics; "
            "reinstall genlab or run scripts/train_classifiers.py"
        ) from None
    return classifier_from_bytes(data, f"{domain}-classifier{suffix}")


def classifier_from_bytes(data: bytes, name: str) -> ClassifierExtractor:
    """A ClassifierExtractor from the bytes of a classifier .safetensors file (architecture in its metadata)."""
    meta = safetensors_metadata(data)
    model = ClassifierCNN.from_config(meta)
    model.load_state_dict(load_tensors(data))
    model.to(memory_format=torch.channels_last)
    return ClassifierExtractor(name, model, hashlib.sha256(data).hexdigest()[:16], meta)


# -------------------------------------------------------------- inception

INCEPTION_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_WEIGHTS_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + INCEPTION_WEIGHTS_FILE
)


def inception_weights_path() -> Path:
    """Local InceptionV3 weights: $GENLAB_INCEPTION_WEIGHTS, else torch hub's checkpoints dir."""
    env = os.environ.get("GENLAB_INCEPTION_WEIGHTS")
    path = Path(env) if env else Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILE
    if not path.is_file():
        raise MetricsError(
            f"InceptionV3 weights not found at {path}; download {INCEPTION_WEIGHTS_URL} yourself and "
            "put it there or set GENLAB_INCEPTION_WEIGHTS to its path (genlab never downloads it)"
        )
    return path


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


class InceptionExtractor(FeatureExtractor):
    """torch-fidelity's InceptionV3: 2048-d pool features and 1008 'unbiased' logits.

    Images go in as RGB uint8 at their own size; the network resizes to 299x299 itself.
    """

    name = "inception"
    input_channels = 3

    def __init__(self, weights_path: Path | None = None):
        super().__init__()
        path = Path(weights_path) if weights_path is not None else inception_weights_path()
        try:
            from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3  # noqa: PLC0415
        except ImportError:
            raise MetricsError(
                "the 'inception' extractor needs torch-fidelity: pip install 'torch-fidelity>=0.4'"
            ) from None
        self.path = path
        self.net = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path=str(path)
        )
        self._weights_hash: str | None = None

    @property
    def weights_hash(self) -> str:
        if self._weights_hash is None:
            self._weights_hash = _file_hash(self.path)
        return self._weights_hash

    def compute(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        feats, logits = self.net((x.clamp(0, 1) * 255).round().to(torch.uint8))
        return feats, logits


# ------------------------------------------------------- user extractors


class CallableExtractor(FeatureExtractor):
    """Wraps a user module or function mapping a float batch to features.

    The output may be a tensor (features), a (features, logits) pair, or a dict
    with "features" and optionally "logits".  Batches are passed unchanged
    unless `input_channels` / `input_size` are given.
    """

    def __init__(
        self,
        fn: Callable[[torch.Tensor], Any],
        name: str | None = None,
        *,
        input_channels: int | None = None,
        input_size: tuple[int, int] | None = None,
    ):
        super().__init__()
        self.fn = fn
        if isinstance(fn, nn.Module):
            self.module = fn  # registered so .to(device) / state_dict reach it
        self.name = name or getattr(fn, "name", None) or _qualified_name(fn)
        self.input_channels, self.input_size = input_channels, input_size

    @property
    def weights_hash(self) -> str:
        return state_dict_hash(self.fn) if isinstance(self.fn, nn.Module) else "none"

    def compute(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        out = self.fn(x)
        if isinstance(out, dict):
            if "features" not in out:
                raise MetricsError(f"extractor {self.name!r} returned a dict without a 'features' key")
            return out["features"], out.get("logits")
        if isinstance(out, (tuple, list)):
            if len(out) != 2:
                raise MetricsError(f"extractor {self.name!r} must return features or (features, logits)")
            return out[0], out[1]
        if not isinstance(out, torch.Tensor):
            raise MetricsError(f"extractor {self.name!r} returned {type(out).__name__}, expected a tensor")
        return out, None


def _qualified_name(obj: Any) -> str:
    target = obj if isinstance(obj, type) or (callable(obj) and hasattr(obj, "__qualname__")) else type(obj)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', type(obj).__name__)}"


def _import_spec(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise MetricsError(f"cannot import extractor {spec!r}: {exc}") from None
    return obj() if isinstance(obj, type) else obj


# ---------------------------------------------------------------- registry

EXTRACTORS: Registry[Callable[[], FeatureExtractor]] = Registry("extractor", error=MetricsError, ordered=True)
EXTRACTORS.register("fashion-mnist-classifier")(lambda: load_classifier("fashion-mnist"))
EXTRACTORS.register("mnist-classifier")(lambda: load_classifier("mnist"))
EXTRACTORS.register("inception")(lambda: InceptionExtractor())
# The first shipped weights (penultimate-layer features), kept to reproduce figures published with them.
EXTRACTORS.register("fashion-mnist-classifier-v1")(lambda: load_classifier("fashion-mnist", "v1"))
EXTRACTORS.register("mnist-classifier-v1")(lambda: load_classifier("mnist", "v1"))

#: name prefix -> loader of the extractors named so (``domain-...``: registered by genlab.metrics.domain,
#: which trains them on first use and reads them from its cache)
PREFIXES: dict[str, Callable[[str], FeatureExtractor]] = {}

_loaded: dict[str, FeatureExtractor] = {}


def get_extractor(spec: Any) -> FeatureExtractor:
    """Resolve a registered name, a "module.path:attribute" string, a module or a callable."""
    if isinstance(spec, FeatureExtractor):
        return spec
    if isinstance(spec, str):
        if spec in EXTRACTORS:
            if spec not in _loaded:
                _loaded[spec] = EXTRACTORS.get(spec)()
            return _loaded[spec]
        for prefix, loader in PREFIXES.items():
            if spec.startswith(prefix):
                return loader(spec)
        if ":" in spec:
            obj = _import_spec(spec)
            return obj if isinstance(obj, FeatureExtractor) else CallableExtractor(obj, name=spec)
        raise MetricsError(
            f"unknown extractor {spec!r}; valid extractors: {', '.join(EXTRACTORS.names())}, "
            "or a 'module.path:callable' string, nn.Module or callable"
        )
    if callable(spec):
        return CallableExtractor(spec)
    raise MetricsError(f"extractor must be a name, 'module:callable', nn.Module or callable, got {type(spec).__name__}")


def extractor_names() -> list[str]:
    """Names accepted by `get_extractor` besides user extractors."""
    return EXTRACTORS.names()
