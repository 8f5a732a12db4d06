"""Latent explorations: interpolation (linear, slerp), traversals and class grids, on GANs and VAEs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from PIL import Image

import genlab
from genlab.data import load_dataset
from genlab.errors import GenlabError
from genlab.explore.latent import class_grid, interpolation_grid, traversal_grid
from genlab.latent import interpolate, lerp, slerp, traversal_latents
from genlab.registry import EXPLORERS

from .family_checks import train_small

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def info():
    from .conftest import require_fashion

    require_fashion()
    return load_dataset("fashion-mnist").subset(64).info


def build(family, info, **options):
    from genlab.config import build as build_config

    cls = genlab.registry.FAMILIES.get(family)
    torch.manual_seed(0)
    model = cls(build_config(cls.Config, options), info)
    model.eval()
    return model


def test_lerp_and_slerp_paths():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(3, 16, generator=g), torch.randn(3, 16, generator=g)
    for method in ("linear", "slerp"):
        path = interpolate(z0, z1, 7, method)
        assert path.shape == (7, 3, 16)
        assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)
    lin = lerp(z0, z1, torch.tensor([0.5]))[0]
    assert torch.allclose(lin, (z0 + z1) / 2)
    # slerp between orthogonal unit vectors stays on the unit circle, linear cuts the corner
    e0, e1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    mid = slerp(e0, e1, torch.tensor([0.5]))[0]
    assert torch.allclose(mid, torch.tensor([2 ** -0.5, 2 ** -0.5]), atol=1e-6)
    assert torch.allclose(lerp(e0, e1, torch.tensor([0.5]))[0].norm(), torch.tensor(2 ** -0.5))
    # parallel vectors fall back to a straight line without NaNs
    par = slerp(e0, 2 * e0, torch.linspace(0, 1, 5))
    assert torch.isfinite(par).all() and torch.allclose(par[2], torch.tensor([1.5, 0.0]))
    with pytest.raises(GenlabError, match="unknown interpolation method 'cubic'"):
        interpolate(z0, z1, 5, "cubic")
    with pytest.raises(GenlabError, match="at least 2"):
        interpolate(z0, z1, 1)


@pytest.mark.parametrize("family,options", [
    ("gan", dict(g_hidden=[32, 64], d_hidden=[32])),
    ("dcgan", dict(g_width=8, d_width=8)),
    ("cgan", dict(g_width=8, d_width=8, embed_dim=8)),
    ("infogan", dict(g_width=8, d_width=8, q_hidden=16)),
    ("vae", dict(width=8)),
])
@pytest.mark.parametrize("method", ["linear", "slerp"])
def test_interpolation_endpoints_are_the_endpoint_samples(info, family, options, method):
    model = build(family, info, **options)
    out = interpolation_grid(model, rows=3, steps=5, method=method, seed=7)
    images = out["images"].reshape(3, 5, 1, 28, 28)
    labels = out.get("labels")
    start = model.sample(3, z=out["z0"], labels=labels)["images"]
    end = model.sample(3, z=out["z1"], labels=labels)["images"]
    assert torch.allclose(images[:, 0], start, atol=1e-5) and torch.allclose(images[:, -1], end, atol=1e-5)
    # the middle differs from both ends, and the same seed gives the same grid
    assert not torch.allclose(images[:, 2], start, atol=1e-3)
    assert torch.equal(interpolation_grid(model, rows=3, steps=5, method=method, seed=7)["images"], out["images"])
    if model.conditional:  # one class per row
        assert labels.shape == (3,)


def test_traversal_of_infogan_codes(info):
    model = build("infogan", info, g_width=8, d_width=8, q_hidden=16)
    z, cols = traversal_latents(model, rows=2, code="c1", generator=torch.Generator().manual_seed(0))
    assert cols == 10 and z.shape == (20, 62 + 12)
    grid = z.reshape(2, 10, -1)
    assert torch.equal(grid[:, :, 62:72].argmax(-1), torch.arange(10).expand(2, 10))  # columns are categories
    assert torch.equal(grid[:, :, :62], grid[:, :1, :62].expand(-1, 10, -1))  # rows keep their noise
    assert torch.equal(grid[:, :, 72:], grid[:, :1, 72:].expand(-1, 10, -1))  # other codes untouched
    z, cols = traversal_latents(model, rows=3, code="c3", steps=5)
    assert cols == 5 and torch.equal(z.reshape(3, 5, -1)[0, :, 73], torch.linspace(-2, 2, 5))
    out = traversal_grid(model, rows=2, code="c2", steps=4, span=1.0)
    assert out["images"].shape == (8, 1, 28, 28)
    with pytest.raises(GenlabError, match=r"unknown code 'c7'; this model's codes are c1 \(categorical, 10 values\)"):
        traversal_grid(model, code="c7")
    with pytest.raises(GenlabError, match="exactly one of --code"):
        traversal_grid(model, code="c1", dim=2)


def test_traversal_of_a_vae_dimension(info):
    model = build("vae", info, width=8, latent_dim=6)
    out = traversal_grid(model, rows=2, dim=4, steps=5)
    assert out["images"].shape == (10, 1, 28, 28) and out["cols"] == 5
    z = out["z"].reshape(2, 5, 6)
    assert torch.equal(z[0, :, 4], torch.linspace(-3, 3, 5))
    assert torch.equal(z[:, :, :4], z[:, :1, :4].expand(-1, 5, -1))
    assert torch.allclose(out["images"][:5], model.sample(5, z=out["z"][:5])["images"], atol=1e-5)
    with pytest.raises(GenlabError, match=r"--dim 6 is out of range; this model's latent has 6 dimensions"):
        traversal_grid(model, dim=6)
    with pytest.raises(GenlabError, match="has no named latent codes; traverse a coordinate with --dim K"):
        traversal_grid(model, code="c1")


def test_class_grid_rows_are_classes(info):
    model = build("cgan", info, g_width=8, d_width=8, embed_dim=8)
    out = class_grid(model, cols=3, seed=1)
    assert out["images"].shape == (30, 1, 28, 28)
    assert out["labels"].reshape(10, 3).tolist() == [[k] * 3 for k in range(10)]
    with pytest.raises(GenlabError, match="not conditional; class grids need a conditional model"):
        class_grid(build("gan", info, g_hidden=[16], d_hidden=[16]))


def run_explorer(name, model, *argv):
    """What `genlab explore NAME RUN ARGV` does after loading the model (same parser wiring)."""
    import argparse

    parser = argparse.ArgumentParser()
    EXPLORERS.get(name).add_arguments(parser)
    return EXPLORERS.get(name).run(model, parser.parse_args([str(a) for a in argv]))


def test_explorers_write_grids(tmp_path, fashion_dir):
    assert {"interpolate", "traverse", "classes"} <= set(EXPLORERS.names())
    train_small("cgan", tmp_path / "cgan", steps=2, g_width=8, d_width=8, embed_dim=8)
    train_small("infogan", tmp_path / "info", steps=2, g_width=8, d_width=8, q_hidden=16)
    info, cgan = genlab.load(tmp_path / "info"), genlab.load(tmp_path / "cgan")
    line = run_explorer("interpolate", info, "--steps", 6, "--rows", 3, "--method", "slerp",
                        "--out", tmp_path / "interp.png")
    assert "3 rows x 6 steps, slerp" in line
    assert Image.open(tmp_path / "interp.png").size == (6 * 30 + 2, 3 * 30 + 2)  # 28 px + 2 px padding
    run_explorer("traverse", info, "--code", "c1", "--rows", 2, "--out", tmp_path / "t.png")
    assert Image.open(tmp_path / "t.png").size == (10 * 30 + 2, 2 * 30 + 2)
    line = run_explorer("classes", cgan, "--cols", 4, "--out", tmp_path / "c.png")
    assert "rows: T-shirt/top, Trouser" in line
    assert Image.open(tmp_path / "c.png").size == (4 * 30 + 2, 10 * 30 + 2)
    run_explorer("interpolate", cgan, "--class", 2, "--rows", 2, "--out", tmp_path / "ci.png")
    with pytest.raises(GenlabError, match="class 11 is out of range"):
        run_explorer("interpolate", cgan, "--class", 11, "--out", tmp_path / "x.png")

    # the real command line, once for success and once for a user error (exit code 2, one line)
    env = dict(os.environ, OMP_NUM_THREADS="1")

    def cli(*args):
        proc = subprocess.run([sys.executable, "-m", "genlab", "explore", *map(str, args)], capture_output=True,
                              text=True, env=env, timeout=300)
        return proc.returncode, proc.stdout, proc.stderr

    code, out, err = cli("traverse", tmp_path / "info", "--code", "c2", "--steps", 5, "--out", tmp_path / "t2.png")
    assert code == 0 and "4 rows of fixed noise x 5 values of c2" in out, err
    assert Image.open(tmp_path / "t2.png").size == (5 * 30 + 2, 4 * 30 + 2)
    code, out, err = cli("classes", tmp_path / "info", "--out", tmp_path / "y.png")
    assert code == 2 and err.strip().count("\n") == 0 and "not conditional" in err
