"""The set-up `make test` does on a fresh machine: the system-deps target, .ci/run, and strict skips.

`make system-deps` is run for real with apt-get replaced by `echo`, so the
test sees which packages it would install without installing anything.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from . import conftest
from .conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def system_deps(tmp_path, deps: str) -> str:
    out = subprocess.run(["make", "-s", "-C", str(REPO), "system-deps", f"SYSTEM_DEPS={deps}", "APT_GET=echo apt-get"],
                         capture_output=True, text=True, check=True)
    return out.stdout


def test_system_deps_installs_exactly_what_is_missing(tmp_path):
    present = tmp_path / "present"
    present.write_text("")
    out = system_deps(tmp_path, f"wamerican:{tmp_path / 'absent'} chromium:{present} chromium-driver:{tmp_path / 'no'}")
    lines = out.splitlines()
    assert "installing Debian packages: wamerican chromium-driver" in lines
    assert "apt-get update -q" in lines and "apt-get install -y -q wamerican chromium-driver" in lines
    assert system_deps(tmp_path, f"chromium:{present}") == ""  # nothing missing: no apt-get at all


def test_system_deps_covers_what_the_tests_need():
    listed = subprocess.run(["make", "-s", "-C", str(REPO), "--eval", "print-deps: ; @echo $(SYSTEM_DEPS)", "print-deps"],
                            capture_output=True, text=True, check=True).stdout.split()
    assert listed == [f"dataset-fashion-mnist:{conftest.FASHION_DIR / 'train-images-idx3-ubyte.gz'}",
                      f"wamerican:{conftest.WORDS_FILE}", "chromium:/usr/bin/chromium",
                      "chromium-driver:/usr/bin/chromedriver", "fortunes:/usr/share/games/fortunes/fortunes",
                      "fortunes-zh:/usr/share/games/fortunes/tang300", "fluidsynth:/usr/bin/fluidsynth",
                      "fluid-soundfont-gm:/usr/share/sounds/sf2/FluidR3_GM.sf2"]
    ci = [x for x in (REPO / ".ci" / "run").read_text().splitlines() if x and not x.startswith("#")]
    assert ci[-2:] == ["make system-deps", "make test"] and not any("apt-get" in x for x in ci)
    makefile = (REPO / "Makefile").read_text()
    assert "test: install system-deps" in makefile and "GENLAB_OFFLINE=1 $(BIN)/python -m pytest -q" in makefile


def test_missing_system_package_skips_outside_make_and_fails_under_it(monkeypatch):
    monkeypatch.setattr(conftest, "STRICT", False)
    with pytest.raises(pytest.skip.Exception, match="make system-deps"):
        conftest.need_system(False, "wamerican")
    monkeypatch.setattr(conftest, "STRICT", True)
    with pytest.raises(pytest.fail.Exception, match="apt-get install wamerican"):
        conftest.need_system(False, "wamerican")
    conftest.need_system(True, "wamerican")  # present: nothing happens
