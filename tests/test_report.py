"""`genlab report`: a self-contained HTML page from a real (tiny) training run."""

from __future__ import annotations

import base64
import io
import json
import re

import pytest

import genlab
from genlab.data import load_dataset
from genlab.errors import GenlabError
from genlab.report import build_report, group_keys, spread

from .family_checks import train_small

DATA_PNG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)"')


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    from .conftest import require_fashion

    require_fashion()
    run = tmp_path_factory.mktemp("report") / "vae"
    train_small("vae", run, steps=6, sample_every=2, width=8, log_every=2)
    # a real held-out evaluation of the final model, as an evaluation tool would append it
    model = genlab.load(run)
    test = load_dataset("fashion-mnist", split="test").subset(64)
    result = model.evaluate(test, n=64, seed=0)
    with open(run / "eval.jsonl", "w") as f:
        f.write(json.dumps({"step": 6, "split": "test", "eval": result}) + "\n")
    return run, result


def test_report_has_config_curves_grids_and_eval(vae_run, tmp_path):
    from PIL import Image

    run, result = vae_run
    out = build_report(run, tmp_path / "report.html")
    page = out.read_text()
    for title in ("Configuration", "Training curves", "Sample grids over training", "Evaluation"):
        assert f">{title}</h2>" in page
    images = DATA_PNG.findall(page)
    alts = [alt for _, alt in images]
    assert "loss and metric curves" in alts
    # the trainer wrote samples and reconstructions at steps 2, 4, 6: all shown, in step order
    sample_alts = [a for a in alts if a.startswith("samples at step")]
    assert sample_alts == ["samples at step 2", "samples at step 4", "samples at step 6"]
    assert [a for a in alts if a.startswith("reconstructions")] == [
        f"reconstructions at step {s}" for s in (2, 4, 6)]
    for data, alt in images:
        img = Image.open(io.BytesIO(base64.b64decode(data)))
        assert img.width > 50 and img.height > 50, alt
    # self-contained: nothing is fetched from elsewhere
    assert not re.search(r'(src|href)="(?!data:)', page)
    # configuration and evaluation values appear
    assert "<th>latent_dim</th><td>64</td>" in page and "<th>batch_size</th><td>16</td>" in page
    assert "<th>elbo</th>" in page and f"{result['elbo']:.4g}" in page
    assert "<td>test</td>" in page


def test_report_reads_damaged_and_sparse_runs(vae_run, tmp_path):
    import shutil

    run, _ = vae_run
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    with open(copy / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 7, "eval": {"fid": 123.5}}) + "\n")
        f.write('{"step": 8, "loss": 1.')  # a run killed mid-write
    (copy / "eval.jsonl").unlink()
    shutil.rmtree(copy / "samples")
    page = build_report(copy).read_text()  # default: RUN/report.html
    assert (copy / "report.html").is_file()
    assert "1 unreadable lines skipped" in page
    assert "<th>fid</th>" in page and "123.5" in page
    assert "No sample grids" in page
    # a checkpoint folder resolves to its run
    ckpt = sorted((copy / "checkpoints").iterdir())[-1]
    assert "Training curves" in build_report(ckpt, tmp_path / "r2.html").read_text()
    with pytest.raises(GenlabError, match="is not a folder"):
        build_report(tmp_path / "missing")
    with pytest.raises(GenlabError, match="should end in .html"):
        build_report(copy, tmp_path / "r.pdf")


def test_key_groups_and_spread():
    groups = group_keys(["loss_d", "loss_g", "d_real", "d_fake", "gp", "images_per_s", "eval/fid", "eval/kid"])
    assert groups == {"losses": ["loss_d", "loss_g"], "d_*": ["d_real", "d_fake"], "gp": ["gp"],
                      "eval": ["eval/fid", "eval/kid"], "throughput": ["images_per_s"]}
    assert list(groups)[-1] == "throughput"
    assert spread(list(range(20)), 4) == [0, 6, 13, 19]
    assert spread([1, 2], 5) == [1, 2]
