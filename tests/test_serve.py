"""`genlab serve`: the page driven in real headless Chromium, and the session logic.

The browser test trains a tiny DCGAN on Fashion-MNIST, starts `genlab serve`
as a real subprocess on a free port, loads the page with selenium, generates
samples, changes the seed and a latent slider, and checks that the image
changes each time. Set GENLAB_SCREENSHOTS=DIR to also copy the screenshot
there (docs/screenshots/ for the docs).
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

import genlab
from genlab.errors import GenlabError
from genlab.registry import FAMILIES
from genlab.serve import ModelSession

from .conftest import need_system
from .family_checks import train_small

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def decode(data_url: str) -> np.ndarray:
    from PIL import Image

    assert data_url.startswith("data:image/png;base64,"), data_url[:40]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory):
    from .conftest import require_fashion

    require_fashion()
    run = tmp_path_factory.mktemp("serve") / "dcgan"
    train_small("dcgan", run, steps=3, g_width=8, d_width=8)
    return run


@pytest.fixture
def server(dcgan_run, tmp_path):
    port = free_port()
    env = dict(os.environ, GENLAB_OFFLINE="1", OMP_NUM_THREADS="1")
    log = open(tmp_path / "serve.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "genlab", "serve", str(dcgan_run), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"genlab serve exited with {proc.returncode}: {log.read()}")
            try:
                with urllib.request.urlopen(url + "/api/info", timeout=5) as r:
                    info = json.loads(r.read())
                break
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                if time.monotonic() > deadline:
                    pytest.fail("genlab serve did not answer within 90 s")
                time.sleep(0.3)
        yield url, info
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def make_driver(tmp_path: Path):
    need_system(Path(CHROMIUM).is_file(), "chromium")
    need_system(Path(CHROMEDRIVER).is_file(), "chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1200,1000", f"--user-data-dir={tmp_path / 'chrome-profile'}"):
        opts.add_argument(flag)
    return webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))


def test_page_generates_and_reacts_to_seed_and_slider(server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    url, info = server
    assert info["family"] == "dcgan" and len(info["controls"]) == 8
    driver = make_driver(tmp_path)
    try:
        wait = WebDriverWait(driver, 60)
        driver.get(url + "/")
        img = driver.find_element(By.ID, "sample-img")

        def generation() -> int:
            return int(img.get_attribute("data-generation") or 0)

        wait.until(lambda d: generation() >= 1)
        first = img.get_attribute("src")
        pixels = decode(first)
        assert pixels.shape[0] > 28 and pixels.std() > 0  # a 4x4 grid of 28x28 samples, not blank
        assert driver.find_element(By.ID, "status").text == ""
        assert "dcgan" in driver.find_element(By.ID, "family").text

        # a new seed: typed, then Generate clicked
        seed = driver.find_element(By.ID, "seed")
        seed.clear()
        seed.send_keys("7")
        g = generation()
        driver.find_element(By.ID, "generate").click()
        wait.until(lambda d: generation() > g and img.get_attribute("src") != first)
        assert img.get_attribute("data-seed") == "7"
        second = img.get_attribute("src")
        assert not np.array_equal(decode(second), pixels)
        slider = driver.find_element(By.CSS_SELECTOR, ".latent-slider[data-name='z[0]']")
        seeded_value = float(slider.get_attribute("value"))

        # a latent slider moved with the keyboard to its maximum
        g = generation()
        slider.send_keys(Keys.END)
        wait.until(lambda d: generation() > g and img.get_attribute("src") != second)
        assert float(slider.get_attribute("value")) == 3.0 != seeded_value
        assert not np.array_equal(decode(img.get_attribute("src")), decode(second))

        # the interpolation strip is drawn on load
        strip = driver.find_element(By.ID, "interp-img")
        wait.until(lambda d: (strip.get_attribute("src") or "").startswith("data:image/png"))
        assert decode(strip.get_attribute("src")).shape[1] > 8 * 28

        shot = tmp_path / "serve.png"
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        if os.environ.get("GENLAB_SCREENSHOTS"):
            out = Path(os.environ["GENLAB_SCREENSHOTS"])
            out.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, out / "serve.png")
    finally:
        driver.quit()

    # errors come back as one line with HTTP 400
    code, body = post(url + "/api/generate", {"seed": 1, "values": {"nope": 1.0}})
    assert code == 400 and "unknown control 'nope'" in body["error"]


# -- the session without a browser ----------------------------------------------------------

INFO = {"kind": "image", "shape": [1, 28, 28], "num_classes": 0, "name": "test"}


def tiny(family: str, **info):
    cls = FAMILIES.get(family)
    fields = {k: 8 for k in ("width", "g_width", "d_width") if k in cls.Config.__dataclass_fields__}
    torch.manual_seed(0)
    return cls(cls.Config(**fields), {**INFO, **info}).eval()


def test_session_controls_seed_and_interpolation_endpoints():
    genlab.families()
    session = ModelSession(tiny("vae"), "test")
    info = session.info()
    assert [c["name"] for c in info["controls"]] == [f"z[{i}]" for i in range(8)]
    a = session.generate(seed=3, n=1)
    # the sliders report the seed's own z values
    z = session.model.latent(1, session.model.make_generator(3))
    assert a["values"]["z[0]"] == pytest.approx(float(z[0, 0]))
    same = session.generate(seed=3, n=1, values={"z[1]": a["values"]["z[1]"]})
    assert np.array_equal(decode(same["image"]), decode(a["image"]))
    moved = session.generate(seed=3, n=1, values={"z[1]": 3.0})
    assert moved["values"]["z[1]"] == 3.0
    assert not np.array_equal(decode(moved["image"]), decode(a["image"]))
    # an interpolation starts at seed A's sample and ends at seed B's
    strip = decode(session.interpolate(seed_a=3, seed_b=5, steps=4)["image"])
    b = decode(session.generate(seed=5, n=1)["image"])
    assert strip.shape == (32, 2 + 4 * 30)
    assert np.array_equal(strip[2:30, 2:30], decode(a["image"]))
    assert np.array_equal(strip[2:30, 2 + 3 * 30:2 + 3 * 30 + 28], b)
    with pytest.raises(GenlabError, match="does not translate"):
        session.translate(b"", None)


@pytest.mark.parametrize("family", ["cvae", "cgan"])
def test_session_class_choice(family):
    genlab.families()
    if family not in FAMILIES:
        pytest.skip(f"{family} is not registered")
    names = [f"class{i}" for i in range(10)]
    session = ModelSession(tiny(family, num_classes=10, class_names=names), "test")
    assert session.info()["class_names"] == names
    out = session.generate(seed=0, n=4, label=2)
    assert out["labels"] == [2, 2, 2, 2] and out["label_names"] == ["class2"] * 4
    other = session.generate(seed=0, n=4, label=7)
    assert not np.array_equal(decode(out["image"]), decode(other["image"]))
    with pytest.raises(GenlabError, match="out of range"):
        session.generate(seed=0, n=1, label=10)


def test_session_infogan_codes():
    genlab.families()
    if "infogan" not in FAMILIES:
        pytest.skip("infogan is not registered")
    session = ModelSession(tiny("infogan"), "test")
    controls = {c["name"]: c for c in session.info()["controls"]}
    codes = session.model.latent_codes()
    assert all(code["name"] in controls for code in codes)
    cat = next(c for c in codes if c["kind"] == "categorical")
    a = session.generate(seed=1, n=1, values={cat["name"]: 0})
    b = session.generate(seed=1, n=1, values={cat["name"]: cat["size"] - 1})
    assert a["values"][cat["name"]] == 0 and b["values"][cat["name"]] == cat["size"] - 1
    assert not np.array_equal(decode(a["image"]), decode(b["image"]))


def test_session_shows_sequences_and_text(words):
    from genlab.data import load_dataset

    genlab.families()
    shown = 0
    for name in FAMILIES.names():
        cls = FAMILIES.get(name)
        for kind in [k for k in cls.data_kinds if k in ("sequence", "tokens")]:
            data = load_dataset("sines" if kind == "sequence" else "words")
            torch.manual_seed(0)
            session = ModelSession(cls(cls.Config(), data.info).eval(), "test")
            assert session.info()["output"] == "sequence"
            out = session.generate(seed=0, n=4)
            if kind == "sequence":
                plot = decode(out["image"])  # a line plot of the sampled series
                assert plot.shape[0] >= 200 and plot.std() > 0
            else:  # words: text made of the vocabulary's characters
                vocab = set(data.info["vocab"]) | {"?"}
                assert len(out["text"]) == 4 and all(set(t) <= vocab for t in out["text"])
            shown += 1
    if not shown:
        pytest.skip("no sequence family registered")


def test_session_translates_uploaded_images():
    from PIL import Image

    genlab.families()
    families = [n for n in FAMILIES.names() if callable(getattr(FAMILIES.get(n), "translate", None))]
    if not families:
        pytest.skip("no translation family registered")
    for name in families:
        cls = FAMILIES.get(name)
        kind = cls.data_kinds[0]
        fields = {k: 8 for k in ("g_width", "d_width", "width") if k in cls.Config.__dataclass_fields__}
        torch.manual_seed(0)
        session = ModelSession(cls(cls.Config(**fields), {**INFO, "kind": kind}).eval(), "test")
        dirs = session.info()["directions"]
        assert len(dirs) >= 1
        buf = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(buf, "PNG")
        out = session.translate(buf.getvalue(), dirs[-1])
        assert out["direction"] == dirs[-1]
        assert decode(out["input"]).shape == (28, 28)  # resized to the model's size, grey
        result = decode(out["image"])
        assert result.shape[:2] == (28, 28) and result.std() > 0
        with pytest.raises(GenlabError, match="not an image"):
            session.translate(b"not a png", dirs[0])
        with pytest.raises(GenlabError, match="unknown direction"):
            session.translate(buf.getvalue(), "sideways")


def test_serve_cli_errors(tmp_path):
    import argparse

    from genlab.cli import serve as serve_cli

    args = argparse.Namespace(run=str(tmp_path / "missing"), host="127.0.0.1", port=free_port(), device="cpu")
    with pytest.raises(GenlabError, match="does not exist"):
        serve_cli.run(args)
    # a busy port: the real command prints one line and exits 2
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "genlab", "serve", str(tmp_path), "--port", str(port)],
                              capture_output=True, text=True, timeout=120, env=dict(os.environ, GENLAB_OFFLINE="1"))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"genlab: error: cannot listen on 127.0.0.1:{port}")
    assert proc.stderr.count("\n") == 1
