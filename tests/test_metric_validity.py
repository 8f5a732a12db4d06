"""The metrics' own trustworthiness: torch-fidelity cross-check, disturbances, memorisation, the FID-paper protocol."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genlab.metrics import distances as D
from genlab.metrics import validity as V


def _features(seed: int, n: int, d: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return (rng.normal(size=(n, d)) @ mix + shift).astype(np.float32)


# ------------------------------------------------------- torch-fidelity cross-check


@pytest.fixture(scope="module")
def two_sets():
    return _features(0, 600, 32), _features(1, 500, 32, shift=0.3)


def test_fid_matches_torch_fidelity(two_sets):
    fid_tf = pytest.importorskip("torch_fidelity.metric_fid")
    a, b = two_sets
    ours = D.fid(a, b)
    theirs = fid_tf.fid_statistics_to_metric(fid_tf.fid_features_to_statistics(torch.from_numpy(a).double()),
                                             fid_tf.fid_features_to_statistics(torch.from_numpy(b).double()),
                                             verbose=False)["frechet_inception_distance"]
    assert ours > 0.5
    assert ours == pytest.approx(theirs, rel=1e-4)


def test_kid_matches_torch_fidelity(two_sets):
    kid_tf = pytest.importorskip("torch_fidelity.metric_kid")
    a, b = two_sets
    m = min(len(a), len(b))
    # One subset of all rows: subset drawing differs between the libraries, the estimator must not.
    ours, _ = D.kid(a[:m], b[:m], num_subsets=1, subset_size=m)
    theirs = kid_tf.kid_features_to_metric(torch.from_numpy(a[:m]).double(), torch.from_numpy(b[:m]).double(),
                                           kid_subsets=1, kid_subset_size=m, verbose=False)
    assert ours > 1e-3
    assert ours == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4)


def test_precision_recall_match_torch_fidelity(two_sets):
    prc_tf = pytest.importorskip("torch_fidelity.metric_prc")
    real, fake = two_sets
    precision, recall = D.precision_recall(real, fake, k=3)
    theirs = prc_tf.prc_features_to_metric(torch.from_numpy(fake).double(), torch.from_numpy(real).double(),
                                           prc_neighborhood=3, prc_batch_size=10000, save_cpu_ram=False,
                                           verbose=False)
    assert 0.05 < precision < 0.999 and 0.05 < recall < 0.999
    assert precision == pytest.approx(theirs["precision"], rel=1e-4)
    assert recall == pytest.approx(theirs["recall"], rel=1e-4)


def test_protocol_set_metrics_equal_library_functions(two_sets):
    real, fake = (x.astype(np.float64) for x in two_sets)
    ref = V.Reference(real, real)
    out = V.set_metrics(fake, ref, kid_subsets=5)
    assert out["fid"] == pytest.approx(D.fid(fake, real), rel=1e-9)
    assert (out["precision"], out["recall"]) == D.precision_recall(real, fake, k=3)
    assert (out["density"], out["coverage"]) == D.density_coverage(real, fake, k=5)


# ------------------------------------------------------------------ disturbances


def _images(n: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.rand((n, 1, 28, 28), generator=torch.Generator().manual_seed(seed))


def test_every_disturbance_keeps_shape_and_range_and_level_zero_is_identity():
    x = _images()
    for d in V.DISTURBANCES.values():
        assert len(d.levels) == 5 and list(d.levels) == sorted(d.levels)
        same = d.fn(x, d.levels[0], torch.Generator().manual_seed(0))
        assert torch.allclose(same, x, atol=1e-5), d.name
        out = d.fn(x, d.levels[-1], torch.Generator().manual_seed(0)).clamp(0, 1)
        assert out.shape == x.shape and not torch.allclose(out, x, atol=1e-3), d.name


def test_blur_keeps_constant_images_and_lowers_variance():
    flat = torch.full((2, 1, 28, 28), 0.4)
    assert torch.allclose(V.gaussian_blur(flat, 2.0, torch.Generator()), flat, atol=1e-6)
    x = _images()
    variances = [V.gaussian_blur(x, s, torch.Generator()).var().item() for s in (0.0, 0.5, 1.0, 2.0)]
    assert all(a > b for a, b in zip(variances, variances[1:]))


def test_salt_and_pepper_and_rectangles_touch_the_right_share():
    x = torch.full((4, 1, 28, 28), 0.5)
    out = V.salt_and_pepper(x, 0.2, torch.Generator().manual_seed(0))
    changed = (out != 0.5).float().mean().item()
    assert 0.17 < changed < 0.23
    assert set(out.unique().tolist()) == {0.0, 0.5, 1.0}
    one = V.black_rectangles(x, 1, torch.Generator().manual_seed(0))
    assert ((one == 0).flatten(1).sum(1) == 7 * 7).all()  # one 7x7 square per image


def test_contamination_replaces_the_share_asked():
    x = torch.full((40, 1, 28, 28), 0.5)
    out = V.contamination(x, 0.25, torch.Generator().manual_seed(0))
    replaced = (out != 0.5).flatten(1).any(1).sum().item()
    assert replaced == 10


def test_memorisation_counts_copies_of_training_features():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(500, 8))
    test = rng.normal(size=(300, 8))
    assert V.memorisation(test, train, test, quantile=0.01) == pytest.approx(0.0, abs=0.011)
    samples = np.concatenate([train[:150], test[150:]])
    assert V.memorisation(samples, train, test, quantile=0.01) == pytest.approx(0.5, abs=0.011)
    d = V.nearest_distances(test[:5], train)
    brute = np.sqrt(((test[:5, None, :] - train[None]) ** 2).sum(-1)).min(1)
    np.testing.assert_allclose(d, brute, rtol=1e-9)


def test_verdicts_read_direction_and_strictness():
    rows = [{"test": "gaussian_blur", "level": i, "fid": f, "kid": f, "precision": 1 - f / 10}
            for i, f in enumerate([0.1, 1.0, 2.0, 2.0, 3.0])]
    verdict = V.verdicts(rows)["gaussian_blur"]
    assert verdict == {"fid": False}  # the tie breaks strictness
    rows[3]["fid"] = 2.5
    assert V.verdicts(rows)["gaussian_blur"]["fid"] is True
    assert V.spearman_table(rows)["gaussian_blur"]["fid"] == pytest.approx(1.0)


# ----------------------------------------------------------------- the protocol


@pytest.mark.slow
def test_default_extractor_passes_the_disturbance_protocol(fashion_dir):
    """Heusel et al.'s protocol on 2,000 held-out images: every expected direction holds strictly."""
    from genlab.data import load_images
    from genlab.metrics.api import auto_extractor

    train = load_images("fashion-mnist", split="train")
    test = load_images("fashion-mnist", split="test")
    rows = V.run_protocol(auto_extractor("fashion-mnist"), train.images, train.labels, test.images, test.labels,
                          n=2000)
    failed = {t: [m for m, ok in v.items() if not ok] for t, v in V.verdicts(rows).items()}
    assert not any(failed.values()), failed


def test_multi_depth_features_keep_the_classifier_and_scale_each_feature():
    """Version 2 reads three depths of the same trained network: same logits as v1, unit-scale features."""
    from genlab.metrics import get_extractor

    v1, v2 = get_extractor("fashion-mnist-classifier-v1"), get_extractor("fashion-mnist-classifier")
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    f1, logits1 = v1(x)
    f2, logits2 = v2(x)
    torch.testing.assert_close(logits1, logits2)
    scale = v2.model.feature_scale
    torch.testing.assert_close(f2[:, -128:], f1 * scale[-128:])  # the penultimate layer comes last
    assert f2.shape == (6, 320) and bool((scale > 0).all())


def test_a_bounded_metric_at_its_floor_still_counts_as_falling():
    assert V.strictly_monotone([0.8, 0.1, 0.0, 0.0], -1, floor=0.0)
    assert not V.strictly_monotone([0.8, 0.1, 0.1, 0.0], -1, floor=0.0)  # a tie above the floor
    assert not V.strictly_monotone([0.8, 0.0, 0.2], -1, floor=0.0)  # a rise after the floor
    assert not V.strictly_monotone([0.8, 0.1, 0.0, 0.0], -1)  # without a floor, a tie fails
