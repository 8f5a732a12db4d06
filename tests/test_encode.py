"""`genlab encode`: latent codes of a dataset split; the web page's scatter of them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import genlab
from genlab.cli import main
from genlab.errors import GenlabError

from .family_checks import train_small


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from .conftest import require_fashion

    require_fashion()
    root = tmp_path_factory.mktemp("encode")
    train_small("cvae", root / "cvae", steps=3, width=8, latent_dim=16)
    train_small("dcgan", root / "dcgan", steps=2, g_width=8, d_width=8)
    return root


def test_encode_writes_means_log_variances_and_labels(runs, tmp_path, capsys):
    from genlab.data import load_dataset

    out = tmp_path / "latents.npz"
    assert main(["encode", str(runs / "cvae"), "--limit", "300", "--out", str(out)]) == 0
    assert "300 codes of 16 dimensions" in capsys.readouterr().out
    with np.load(out) as f:
        mu, logvar, labels = f["mu"], f["logvar"], f["labels"]
        assert str(f["family"]) == "cvae" and str(f["split"]) == "test"
    assert mu.shape == logvar.shape == (300, 16) and mu.dtype == np.float32
    test = load_dataset("fashion-mnist", split="test").subset(300).prepare("cpu")
    assert np.array_equal(labels, test["y"].numpy())
    # the codes are the encoder's: q(z | x, y) of the same images, given their labels
    model = genlab.load(runs / "cvae")
    x01, y = model.eval_tensors(test, None, 0, binarize=False)
    with torch.no_grad():
        want_mu, want_logvar = model.encode(x01[:50], y[:50])
    assert np.allclose(mu[:50], want_mu.numpy(), atol=1e-5) and np.allclose(logvar[:50], want_logvar.numpy(), atol=1e-5)
    assert not list(tmp_path.glob(".*tmp*"))  # written under a temporary name, renamed into place


def test_encode_refuses_a_gan_and_bad_outputs_in_one_line(runs, tmp_path, capsys):
    for argv, needle in [
        (["encode", str(runs / "dcgan"), "--out", str(tmp_path / "z.npz")], "this run holds a dcgan model"),
        (["encode", str(runs / "cvae"), "--out", str(tmp_path / "z.csv")], "must be an .npz file"),
        (["encode", str(runs / "cvae"), "--limit", "0", "--out", str(tmp_path / "z.npz")], "--limit must be"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("genlab: error:") and needle in err and "\n" not in err, err
    assert not list(tmp_path.iterdir())


def test_scatter_points_and_decoding(runs, tmp_path):
    from genlab.serve import ModelSession
    from genlab.serve.latents import LatentScatter

    out = tmp_path / "latents.npz"
    assert main(["encode", str(runs / "cvae"), "--limit", "200", "--out", str(out)]) == 0
    model = genlab.load(runs / "cvae")
    session = ModelSession(model, "cvae")
    scatter = LatentScatter(session, out)
    pts = scatter.points()
    assert len(pts["x"]) == len(pts["y"]) == len(pts["labels"]) == 200 and pts["axes"][0].startswith("PC1")
    # the first two principal components of the means: centred, the first with the larger spread
    assert abs(np.mean(pts["x"])) < 1e-3 and np.var(pts["x"]) >= np.var(pts["y"])
    decoded = scatter.decode(5)
    assert decoded["image"].startswith("data:image/png;base64,") and decoded["label"] == pts["labels"][5]
    with pytest.raises(GenlabError, match="out of range"):
        scatter.decode(200)
    with pytest.raises(GenlabError, match="only decodes"):
        LatentScatter(ModelSession(genlab.load(runs / "dcgan"), "dcgan"), out)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, mu=np.zeros((3, 5), np.float32))
    with pytest.raises(GenlabError, match="5-dimensional codes"):
        LatentScatter(session, wrong)


def test_page_draws_the_scatter_and_decodes_a_clicked_point(runs, tmp_path):
    """The real page in headless Chromium, served with --latents."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from .test_serve import free_port, make_driver

    out = tmp_path / "latents.npz"
    assert main(["encode", str(runs / "cvae"), "--limit", "300", "--out", str(out)]) == 0
    port = free_port()
    env = dict(os.environ, GENLAB_OFFLINE="1", OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "genlab", "serve", str(runs / "cvae"), "--port", str(port),
                             "--latents", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    driver = None
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(url + "/api/info", timeout=5).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "genlab serve did not start"
                time.sleep(0.3)
        driver = make_driver(tmp_path)
        wait = WebDriverWait(driver, 60)
        driver.get(url + "/")
        canvas = driver.find_element(By.ID, "scatter")
        wait.until(lambda d: canvas.get_attribute("data-points") == "300")
        assert driver.find_element(By.ID, "scatter-panel").is_displayed()
        ActionChains(driver).move_to_element(canvas).click().perform()
        img = driver.find_element(By.ID, "scatter-img")
        wait.until(lambda d: (img.get_attribute("src") or "").startswith("data:image/png"))
        assert driver.find_element(By.ID, "scatter-caption").text.startswith("point ")
    finally:
        if driver is not None:
            driver.quit()
        proc.terminate()
        proc.wait(timeout=15)
