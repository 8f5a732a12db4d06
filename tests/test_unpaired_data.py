"""Unpaired data: edges2fashion's disjoint training domains and aligned test
pairs, the unpaired:PATH folder layout (also as folder:PATH for CycleGAN), and
the kind check of other families."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.data import load_dataset
from genlab.data.unpaired import UnpairedData, edge_maps
from genlab.errors import DataError, GenlabError


def test_edges2fashion_training_domains_are_disjoint(fashion_dir):
    data = load_dataset("edges2fashion")
    items = load_dataset("fashion-mnist")
    n = len(items)
    assert isinstance(data, UnpairedData) and data.info["kind"] == "unpaired-image"
    assert len(data.a) == len(data.b) == n // 2
    a_src, b_src = data.tensors["a_source"], data.tensors["b_source"]
    # A edges come from the first half of the train split, B items from the second half
    assert int(a_src.max()) < n // 2 <= int(b_src.min())
    assert not set(a_src.tolist()) & set(b_src.tolist())
    assert sorted(a_src.tolist()) == list(range(n // 2))  # each source used once
    # shuffled: a shared batch index does not walk through the split in order
    assert not torch.equal(a_src[:100], torch.arange(100))
    # the stored tensors are what the sources say they are
    assert torch.equal(data.a[:64], edge_maps(items.images[a_src[:64]]))
    assert torch.equal(data.b[:64], items.images[b_src[:64]])
    # no B item is the source of any A edge map: B's edges never occur among A's
    a_maps = {bytes(x.numpy().tobytes()) for x in data.a}
    b_maps = edge_maps(data.b[:500])
    assert not any(bytes(x.numpy().tobytes()) in a_maps for x in b_maps)


def test_edges2fashion_test_pairs_are_aligned(fashion_dir):
    test = load_dataset("edges2fashion", split="test")
    items = load_dataset("fashion-mnist", split="test")
    assert test.info["paired"] and test.info["num_classes"] == 10
    assert torch.equal(test.b, items.images)
    assert torch.equal(test.tensors["y"], items.labels)
    assert torch.equal(test.a[:300], edge_maps(items.images[:300]))
    edges = test.a[:300].float() / 255
    assert set(torch.unique(test.a).tolist()) <= {0, 255}
    assert 0.05 < edges.mean() < 0.4  # thin lines, not filled shapes
    prepared = test.subset(32).prepare()
    assert set(prepared) == {"a", "b", "y"}
    for k in ("a", "b"):
        assert prepared[k].dtype == torch.float32 and prepared[k].min() >= -1 and prepared[k].max() <= 1


def test_edges2fashion_resized(fashion_dir):
    data = load_dataset("edges2fashion", split="test", image_size=32)
    assert data.info["shape_a"] == data.info["shape_b"] == [1, 32, 32]
    assert data.a.shape[1:] == (1, 32, 32)


def _write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def make_unpaired_folder(root, n_a=5, n_b=3, size=20):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for i in range(n_a):
            _write(root / f"{split}A" / f"a{i}.png", rng.integers(0, 256, (size, size), dtype=np.uint8))
        for i in range(n_b):
            _write(root / f"{split}B" / f"b{i}.png", rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    return root


def test_unpaired_folder_layout(tmp_path):
    root = make_unpaired_folder(tmp_path / "horse2zebra")
    data = load_dataset(f"unpaired:{root}")
    assert data.info["kind"] == "unpaired-image"
    assert data.info["shape_a"] == [1, 20, 20] and data.info["shape_b"] == [3, 20, 20]
    assert data.info["size_a"] == 5 and data.info["size_b"] == 3
    assert data.a.shape == (5, 1, 20, 20) and data.b.shape == (5, 3, 20, 20)  # B topped up by repeats
    originals = {np.asarray(Image.open(root / "trainB" / f"b{i}.png")).tobytes() for i in range(3)}
    got = {x.permute(1, 2, 0).numpy().tobytes() for x in data.b}
    assert got == originals
    test = load_dataset(f"unpaired:{root}", split="test")
    first = np.asarray(Image.open(root / "testA" / "a0.png"))
    assert np.array_equal(test.a[0, 0].numpy(), first)  # test split keeps file order


def test_unpaired_folder_sizes_follow_domain_a(tmp_path):
    root = make_unpaired_folder(tmp_path / "d", size=20)
    _write(root / "trainB" / "big.png", np.zeros((40, 40, 3), dtype=np.uint8))
    data = load_dataset(f"unpaired:{root}")
    assert data.b.shape[-2:] == (20, 20)
    assert load_dataset(f"unpaired:{root}", image_size=16).a.shape[-2:] == (16, 16)


def test_unpaired_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(f"unpaired:{tmp_path / 'missing'}")
    (tmp_path / "half" / "trainA").mkdir(parents=True)
    with pytest.raises(DataError, match="trainB"):
        load_dataset(f"unpaired:{tmp_path / 'half'}")
    with pytest.raises(DataError, match="needs a path"):
        load_dataset("unpaired")
    with pytest.raises(DataError, match="valid splits"):
        load_dataset("edges2fashion", split="val")


def test_image_families_refuse_unpaired_data():
    from genlab.models.dcgan import DCGAN, DCGANConfig

    info = {"kind": "unpaired-image", "shape": [1, 28, 28], "shape_a": [1, 28, 28], "shape_b": [1, 28, 28]}
    with pytest.raises(GenlabError, match="unpaired-image"):
        DCGAN(DCGANConfig(g_width=8, d_width=8), info)


def test_cyclegan_takes_folder_with_the_train_ab_layout(tmp_path, capsys):
    import genlab

    root = make_unpaired_folder(tmp_path / "horse2zebra", n_a=8, n_b=6, size=32)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        genlab.train("cyclegan", data=f"folder:{root}", out=tmp_path / "run", steps=2, batch_size=4, g_width=8,
                     d_width=8, n_blocks=1, log_every=1, sample_every=0, progress=False, tensorboard=False)
    finally:
        torch.set_num_threads(before)
    assert f"reading it as unpaired:{root}" in capsys.readouterr().err
    model = genlab.load(tmp_path / "run")
    assert model.data_info["dataset"] == f"unpaired:{root}" and model.data_info["shape_b"] == [3, 32, 32]
    # a plain folder of images is refused with the spec that would work
    plain = tmp_path / "plain"
    for i in range(4):
        _write(plain / f"{i}.png", np.zeros((32, 32), dtype=np.uint8))
    with pytest.raises(GenlabError, match=r"unpaired:PATH \(trainA/ trainB/ testA/ testB/ folders\)") as info:
        genlab.train("cyclegan", data=f"folder:{plain}", out=tmp_path / "refused", steps=1, batch_size=2)
    assert "\n" not in str(info.value) and not (tmp_path / "refused").exists()
    # image families still read such a folder as images (its four subfolders as classes)
    assert load_dataset(f"folder:{root}").num_classes == 4
