"""Tests for genlab.metrics: distances vs independent NumPy/SciPy code, shipped classifiers, cache, API.

Data-dependent tests read Fashion-MNIST from /usr/share/datasets/fashion-mnist
(installed by `make system-deps`) and MNIST's t10k split from ../shared/data
(relative to the repo root), or files of the same format (tests/datafiles.py).
"""

from __future__ import annotations

import gzip
import json
import socket
from pathlib import Path

import numpy as np
import pytest
import scipy.spatial.distance
import scipy.special
import scipy.stats
import torch

from genlab.metrics import (
    METRICS,
    MetricsError,
    ReferenceStats,
    auto_extractor,
    class_coverage,
    classifier_accuracy,
    density_coverage,
    evaluate,
    fid,
    get_extractor,
    inception_score,
    kid,
    precision_recall,
    reference_stats,
)
from genlab.metrics import extractors as extractors_module
from genlab.metrics.distances import kid_subsets

from .conftest import require_fashion
from .datafiles import synthetic

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "src" / "genlab" / "metrics" / "weights"
FASHION = Path("/usr/share/datasets/fashion-mnist")
REL = 1e-6


def read_idx(path: Path, offset: int) -> np.ndarray:
    with gzip.open(path, "rb") as handle:
        return np.frombuffer(handle.read(), dtype=np.uint8, offset=offset)


def load_t10k(root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = root / "t10k-images-idx3-ubyte.gz", root / "t10k-labels-idx1-ubyte.gz"
    if root == FASHION:
        require_fashion()
    x = read_idx(images, 16).reshape(-1, 1, 28, 28).copy()
    y = read_idx(labels, 8).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


@pytest.fixture(scope="module")
def fashion() -> tuple[torch.Tensor, torch.Tensor]:
    return load_t10k(FASHION)


@pytest.fixture(scope="module")
def fashion_out(fashion):
    """Shipped-classifier features and logits of the first 4000 Fashion-MNIST test images."""
    return get_extractor("fashion-mnist-classifier").extract(fashion[0][:4000], batch_size=1000)


@pytest.fixture(scope="module")
def fashion_ref(fashion_out) -> ReferenceStats:
    ext = get_extractor("fashion-mnist-classifier")
    key = {"dataset": "fashion-mnist", "split": "test[:2000]", "extractor": ext.name, "weights": ext.weights_hash}
    return ReferenceStats.from_features(fashion_out.features[:2000].numpy(), key)


# ----------------------------------------------- independent reference code


def np_fid(a: np.ndarray, b: np.ndarray) -> float:
    def stats(x):
        mu = x.sum(axis=0) / len(x)
        c = x - mu
        return mu, c.T @ c / (len(x) - 1)

    (m1, s1), (m2, s2) = stats(a), stats(b)
    # Eigenvalues of S1 S2 are real and >= 0; their square roots sum to Tr sqrt(S1 S2).
    tr_root = np.sqrt(np.clip(np.linalg.eigvals(s1 @ s2).real, 0, None)).sum()
    return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_root)


def np_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
    m, n = len(x), len(y)
    off_x = kxx[~np.eye(m, dtype=bool)].sum() / (m * (m - 1))
    off_y = kyy[~np.eye(n, dtype=bool)].sum() / (n * (n - 1))
    return float(off_x + off_y - 2 * kxy.sum() / (m * n))


def np_kth_radius(x: np.ndarray, k: int) -> np.ndarray:
    return np.sort(scipy.spatial.distance.cdist(x, x), axis=1)[:, k]


def np_prdc(real: np.ndarray, fake: np.ndarray, k_pr: int, k_dc: int) -> dict[str, float]:
    d = scipy.spatial.distance.cdist(real, fake)  # real x fake
    r_real, r_fake = np_kth_radius(real, k_pr), np_kth_radius(fake, k_pr)
    precision = np.mean([any(d[i, j] <= r_real[i] for i in range(len(real))) for j in range(len(fake))])
    recall = np.mean([any(d[i, j] <= r_fake[j] for j in range(len(fake))) for i in range(len(real))])
    r5 = np_kth_radius(real, k_dc)
    inside = d <= r5[:, None]
    return {
        "precision": precision,
        "recall": recall,
        "density": inside.sum() / (k_dc * len(fake)),
        "coverage": np.mean(inside.any(axis=1)),
    }


def np_inception_score(logits: np.ndarray, splits: int) -> tuple[float, float]:
    scores = []
    for part in np.array_split(logits, splits):
        p = scipy.special.softmax(part, axis=1)
        py = p.mean(axis=0)
        scores.append(np.exp(np.mean([scipy.stats.entropy(row, py) for row in p])))
    return float(np.mean(scores)), float(np.std(scores))


@pytest.fixture(scope="module")
def random_sets() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    real = rng.normal(size=(120, 6))
    fake = rng.normal(size=(90, 6)) * 1.3 + 0.4
    return real, fake


def test_fid_matches_numpy(random_sets):
    real, fake = random_sets
    assert fid(real, fake) == pytest.approx(np_fid(real, fake), rel=REL)
    assert fid(torch.from_numpy(real), torch.from_numpy(fake)) == pytest.approx(np_fid(real, fake), rel=REL)
    # Fewer samples than dimensions: singular covariances (sqrtm warns; the fallback must agree).
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(12, 20)), rng.normal(size=(15, 20)) + 0.3
    assert fid(a, b) == pytest.approx(np_fid(a, b), rel=REL)


def test_kid_matches_numpy(random_sets):
    real, fake = random_sets
    # With equal sizes, one full-size "subset" is the plain unbiased MMD^2 of the two sets.
    same = real[: len(fake)]
    assert kid(same, fake, num_subsets=1, subset_size=10**6)[0] == pytest.approx(np_mmd2(same, fake), rel=REL)
    # Several subsets: the documented draw, averaged.
    expected = [np_mmd2(real[ia], fake[ib]) for ia, ib in kid_subsets(len(real), len(fake), 7, 40, seed=3)]
    mean, std = kid(real, fake, num_subsets=7, subset_size=40, seed=3)
    assert mean == pytest.approx(np.mean(expected), rel=REL)
    assert std == pytest.approx(np.std(expected), rel=REL)


def test_prdc_match_numpy(random_sets):
    real, fake = random_sets
    expected = np_prdc(real, fake, k_pr=3, k_dc=5)
    precision, recall = precision_recall(real, fake, k=3)
    density, coverage = density_coverage(real, fake, k=5)
    got = {"precision": precision, "recall": recall, "density": density, "coverage": coverage}
    for name in expected:
        assert got[name] == pytest.approx(expected[name], rel=REL), name
    assert 0 < precision < 1 and 0 < recall < 1 and 0 < coverage < 1


def test_is_class_coverage_accuracy_match_numpy():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(103, 10)) * 3
    mean, std = inception_score(logits, splits=4)
    expected = np_inception_score(logits, 4)
    assert mean == pytest.approx(expected[0], rel=REL) and std == pytest.approx(expected[1], rel=REL)

    pred = np.array([0] * 50 + [1] * 45 + [2] * 4 + [3] * 1)  # shares .5 .45 .04 .01 0
    onehot = np.eye(5)[pred] * 10
    cov, ent = class_coverage(onehot)  # default threshold 0.1 / K = 2%: 3 of 5 classes
    hist = np.bincount(pred, minlength=5) / len(pred)
    assert cov == pytest.approx(np.mean(hist >= 0.02), rel=REL) == 0.6
    assert ent == pytest.approx(scipy.stats.entropy(hist) / np.log(5), rel=REL)
    labels = pred.copy()
    labels[:10] = 4
    assert classifier_accuracy(onehot, labels) == pytest.approx(0.9, rel=REL)


def test_fid_of_a_set_with_itself_is_zero(random_sets, fashion_out):
    real, _ = random_sets
    assert fid(real, real) == pytest.approx(0.0, abs=1e-9)
    feats = fashion_out.features[:2000].double().numpy()
    scale = np.trace(np.cov(feats, rowvar=False))
    assert fid(feats, feats) <= 1e-9 * scale


def test_fid_grows_with_noise(fashion, fashion_ref):
    images = fashion[0][2000:2400].float() / 255
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(images.shape, generator=gen)
    scores = [
        evaluate((images + sigma * noise).clamp(0, 1), reference=fashion_ref, metrics="fid")["fid"]
        for sigma in (0.0, 0.05, 0.1, 0.2, 0.4)
    ]
    assert all(a < b for a, b in zip(scores, scores[1:])), scores
    assert scores[-1] > 10 * scores[0], scores


def test_precision_recall_fall_on_collapsed_sets(fashion, fashion_out, fashion_ref):
    real = fashion_ref.features  # test images 0-1999
    feats, labels = fashion_out.features.numpy()[2000:4000], fashion[1].numpy()[2000:4000]
    one_class = feats[labels == 0]  # T-shirts only, about 200
    diverse = feats[: len(one_class)]  # same size: k-NN radii depend on it
    one_image = np.repeat(feats[:1], len(one_class), axis=0)
    p_div, r_div = precision_recall(real, diverse)
    p_cls, r_cls = precision_recall(real, one_class)
    p_img, r_img = precision_recall(real, one_image)
    assert p_div > 0.6 and r_div > 0.6, (p_div, r_div)
    assert p_cls > 0.6, p_cls  # one class of real images is still realistic...
    assert r_cls < r_div - 0.4, (r_cls, r_div)  # ...but misses most of the distribution
    assert r_img < 0.01, r_img
    assert density_coverage(real, one_class)[1] < 0.5 * density_coverage(real, diverse)[1]


# ---------------------------------------------------- shipped classifiers


@pytest.mark.parametrize("domain,version,dim", [("fashion-mnist", "", 320), ("mnist", "", 320),
                                                ("fashion-mnist", "-v1", 128), ("mnist", "-v1", 128)])
def test_extractors_load_offline_from_shipped_files(domain, version, dim, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(extractors_module, "_loaded", {})
    info = json.loads((WEIGHTS / f"{domain}-classifier{version}.json").read_text())
    path = WEIGHTS / f"{domain}-classifier{version}.safetensors"
    assert path.stat().st_size < 2_000_000
    ext = get_extractor(f"{domain}-classifier{version}")
    assert ext.name == f"{domain}-classifier{version}"
    assert info["weights_sha256"].startswith(ext.weights_hash)
    out = ext.extract(torch.rand(5, 3, 32, 32))  # RGB at another size is converted
    assert out.features.shape == (5, dim) and out.logits.shape == (5, 10)
    assert 100_000 <= sum(p.numel() for p in ext.parameters()) <= 400_000


def test_fashion_classifier_accuracy(fashion, fashion_out):
    info = json.loads((WEIGHTS / "fashion-mnist-classifier.json").read_text())
    assert info["test_accuracy"] >= 0.91 and info["test_split"].startswith("test")
    # Re-measured on the first 4000 test images: within 2 points of the full-split figure.
    measured = float((fashion_out.logits.argmax(1) == fashion[1][:4000]).double().mean())
    assert measured == pytest.approx(info["test_accuracy"], abs=0.02)


def test_mnist_classifier_accuracy(mnist_t10k):
    images, labels = load_t10k(mnist_t10k)
    info = json.loads((WEIGHTS / "mnist-classifier.json").read_text())
    assert info["test_accuracy"] >= 0.99 and info["test_split"] == "test[8000:10000]"
    out = get_extractor("mnist-classifier").extract(images[8000:], batch_size=1000)
    correct = int((out.logits.argmax(1) == labels[8000:]).sum())
    if synthetic(mnist_t10k):  # scikit-learn's 8x8 digits scaled up: blurrier than MNIST, still far above chance
        assert correct > 0.5 * len(labels[8000:]), correct
    else:
        assert abs(correct - info["test_correct"]) <= 2, (correct, info["test_correct"])


# ---------------------------------------------------------------- cache


def test_reference_cache_is_written_once_and_reused(monkeypatch, tmp_path):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path))
    images = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8)
    calls = []

    def loader():
        calls.append(1)
        return images

    key = {"dataset": "synthetic", "split": "train"}
    first = reference_stats(loader, key=key, extractor="fashion-mnist-classifier", max_features=50)
    files = list((tmp_path / "refstats").glob("*.safetensors"))
    assert len(calls) == 1 and files == [first.path]
    mtime = first.path.stat().st_mtime_ns
    second = reference_stats(loader, key=key, extractor="fashion-mnist-classifier", max_features=50)
    assert len(calls) == 1 and second.path == first.path and first.path.stat().st_mtime_ns == mtime
    np.testing.assert_array_equal(first.sigma, second.sigma)
    assert second.count == 64 and second.features.shape == (50, 320)
    # A different n is a different entry.
    reference_stats(loader, key=key, extractor="fashion-mnist-classifier", n=32, max_features=50)
    assert len(calls) == 2 and len(list((tmp_path / "refstats").glob("*.safetensors"))) == 2


def test_evaluate_caches_dataset_reference(monkeypatch, tmp_path, fashion):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path))
    calls = []

    def ref_loader():
        calls.append(1)
        return fashion[0][:500]

    gen = fashion[0][500:700]
    a = evaluate(gen, reference="fashion-mnist:test", ref_images=ref_loader, metrics=("fid", "pr"))
    (path,) = (tmp_path / "refstats").glob("*.safetensors")
    assert path.name.startswith("fashion-mnist-test-fashion-mnist-classifier-")
    written = path.stat().st_mtime_ns
    b = evaluate(gen, reference="fashion-mnist:test", ref_images=ref_loader, metrics=("fid", "pr"))
    assert a == b and path.stat().st_mtime_ns == written  # read from the cache, not recomputed
    # the entry is keyed by the images' content, not the dataset's name: a renamed copy finds it ...
    renamed = evaluate(gen, reference="folder:/elsewhere/copy", ref_images=ref_loader, metrics=("fid", "pr"),
                       extractor="fashion-mnist-classifier")
    assert renamed == a and list((tmp_path / "refstats").glob("*.safetensors")) == [path]
    # ... and changed images under the same name do not
    changed = evaluate(gen, reference="fashion-mnist:test", ref_images=lambda: fashion[0][:499], metrics="fid")
    assert changed["fid"] != a["fid"] and len(list((tmp_path / "refstats").glob("*.safetensors"))) == 2
    c = evaluate(gen, reference=str(path), metrics="fid")  # a stats file works as reference, auto extractor
    assert c["fid"] == pytest.approx(a["fid"], rel=1e-9)


# ------------------------------------------------------------------- API


def test_evaluate_all_metrics(fashion, fashion_ref):
    images, labels = fashion[0][2000:2600], fashion[1][2000:2600]
    out = evaluate(
        images, reference=fashion_ref, metrics=list(METRICS), labels=labels, options={"kid_subsets": 10, "kid_subset_size": 300}
    )
    assert set(out) == {
        "fid", "kid", "kid_std", "precision", "recall", "density", "coverage",
        "is", "is_std", "class_coverage", "class_entropy", "accuracy",
    }  # fmt: skip
    assert all(isinstance(v, float) for v in out.values())
    assert out["accuracy"] > 0.85 and out["class_coverage"] == 1.0 and out["class_entropy"] > 0.95
    assert out["is"] > 5 and abs(out["kid"]) < out["kid_std"]  # real vs real: KID ~ 0
    assert evaluate(images, reference=fashion_ref, metrics="accuracy", labels=labels, n=100)["accuracy"] > 0.8


def test_unknown_names_list_the_valid_ones(fashion_ref):
    images = torch.zeros(8, 1, 28, 28)
    with pytest.raises(MetricsError, match=r"unknown metric 'nope'; valid metrics: fid, kid, pr, dc, is, class_coverage, accuracy"):
        evaluate(images, reference=fashion_ref, metrics=("fid", "nope"))
    with pytest.raises(MetricsError, match=r"unknown extractor 'nope'; valid extractors: fashion-mnist-classifier, mnist-classifier, inception"):
        get_extractor("nope")
    with pytest.raises(MetricsError, match="valid options: kid_subsets"):
        evaluate(images, reference=fashion_ref, metrics="fid", options={"k": 3})
    with pytest.raises(MetricsError, match="no shipped classifier for reference 'cifar10'.*no reference images"):
        auto_extractor("cifar10")
    assert auto_extractor("Fashion_MNIST") == "fashion-mnist-classifier" and auto_extractor("mnist") == "mnist-classifier"
    with pytest.raises(MetricsError, match="needs labels"):
        evaluate(images, metrics="accuracy", extractor="mnist-classifier")
    with pytest.raises(MetricsError, match="need reference"):
        evaluate(images, metrics="fid", extractor="mnist-classifier")
    with pytest.raises(MetricsError, match="computed with extractor 'fashion-mnist-classifier'"):
        evaluate(images, reference=fashion_ref, metrics="fid", extractor="mnist-classifier")


def test_user_extractors():
    real = torch.rand(40, 1, 6, 6)  # small images: 36-d features keep FID's sqrtm cheap
    fake = torch.rand(40, 1, 6, 6) * 0.5
    by_string = evaluate(fake, ref_images=real, metrics=("fid", "pr"), extractor="torch.nn:Flatten")
    by_module = evaluate(fake, ref_images=real, metrics=("fid", "pr"), extractor=torch.nn.Flatten())
    by_function = evaluate(fake, ref_images=real, metrics=("fid", "pr"), extractor=lambda x: {"features": x.flatten(1)})
    assert by_string == by_module == by_function and by_string["fid"] > 0
    with pytest.raises(MetricsError, match="needs class logits"):
        evaluate(fake, metrics="is", extractor=torch.nn.Flatten())
    with pytest.raises(MetricsError, match="cannot import extractor 'no_such_module:f'"):
        get_extractor("no_such_module:f")
    with pytest.raises(MetricsError, match=r"float images must be in \[0, 1\]"):
        evaluate(fake * 2 - 1, ref_images=real, metrics="fid", extractor="torch.nn:Flatten")


def test_inception_without_weights_is_a_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setenv("GENLAB_INCEPTION_WEIGHTS", str(tmp_path / "missing.pth"))
    with pytest.raises(MetricsError) as info:
        get_extractor("inception")
    message = str(info.value)
    assert "\n" not in message and "GENLAB_INCEPTION_WEIGHTS" in message and "never downloads" in message


@pytest.mark.slow  # a 299x299 InceptionV3 forward takes seconds on CPU
def test_inception_wiring_with_stand_in_weights(monkeypatch, tmp_path):
    fidelity = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3", reason="torch-fidelity not installed")
    weights = tmp_path / "stand-in.pth"
    torch.save({}, weights)  # random-initialised network: checks plumbing, not values
    monkeypatch.setenv("GENLAB_INCEPTION_WEIGHTS", str(weights))
    monkeypatch.setattr(fidelity.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state, strict=True: None)
    monkeypatch.setattr(socket.socket, "connect", lambda *a, **k: (_ for _ in ()).throw(AssertionError("network")))
    ext = extractors_module.InceptionExtractor()
    out = ext.extract(torch.rand(2, 1, 28, 28))
    assert out.features.shape == (2, 2048) and out.logits.shape == (2, 1008)
    assert ext.weights_hash and ext.name == "inception"
