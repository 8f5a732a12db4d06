"""CycleGAN's collapse monitor: a generator forced to output a constant is caught (its
translations neither vary nor keep the target domain's intensity), a faithful one is not,
and the monitor runs in real training (logged values, its switch)."""

from __future__ import annotations

import io

import torch
from torch import nn

from genlab.data import load_dataset
from genlab.models.callbacks import Callback
from genlab.models.cyclegan import CycleGAN, CycleGANConfig
from genlab.models.cyclegan.monitor import TranslationMonitor

from .family_checks import read_metrics, train_small


class Constant(nn.Module):
    """A 'generator' whose output ignores its input: every pixel `value` (in [-1, 1])."""

    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full_like(x, self.value)


class Negative(nn.Module):
    """A faithful generator for fashion2negative: the exact negative, in [-1, 1] pixels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -x


def model_for(data) -> CycleGAN:
    return CycleGAN(CycleGANConfig(g_width=4, d_width=4, n_blocks=1), dict(data.info))


def monitor_on(data) -> TranslationMonitor:
    monitor = TranslationMonitor(warmup_steps=0, stream=io.StringIO())
    monitor.set_data(data.a[:512].float() / 255, data.b[:512].float() / 255)
    return monitor


def test_constant_generator_is_detected_and_faithful_one_is_not(fashion_dir):
    data = load_dataset("fashion2negative")
    model = model_for(data)
    model.g_ab, model.g_ba = Negative(), Constant(-1.0)  # G_BA: all black, whatever the input
    monitor = monitor_on(data)
    logs = monitor.check(model, step=1000)
    assert logs["variety_ba"] == 0 and logs["intensity_ba"] == 0
    assert 0.8 < logs["variety_ab"] < 1.25 and abs(logs["intensity_ab"] - monitor.references["b"].mean) < 0.05
    assert len(monitor.warnings) == 1  # G_BA only
    line = monitor.warnings[0]
    assert line.startswith("genlab: warning: possible collapse of G_BA (B -> A) at step 1000")
    assert "look alike" in line and "100% of its translations are darker than 99% of real A images" in line
    assert line in monitor.stream.getvalue() and "\n" not in line
    # a grey constant: no variety either, and brighter than real edge maps
    edges = load_dataset("edges2fashion")
    model = model_for(edges)
    model.g_ba = Constant(0.0)
    monitor = monitor_on(edges)
    monitor.check(model, step=1000)
    assert any("G_BA" in w and "brighter than 99% of real A images" in w for w in monitor.warnings)
    # no warnings during the warm-up
    quiet = TranslationMonitor(warmup_steps=500, stream=io.StringIO())
    quiet.set_data(edges.a[:128].float() / 255, edges.b[:128].float() / 255)
    quiet.check(model, step=100)
    assert not quiet.warnings


class ForceConstant(Callback):
    """Replaces G_BA by a constant generator when training starts."""

    def on_train_start(self, trainer) -> None:
        trainer.model.g_ba = Constant(-1.0)


def test_monitor_runs_in_training(tmp_path, fashion_dir, one_thread):
    tiny = dict(data="edges2fashion", g_width=4, d_width=4, n_blocks=1, batch_size=4, limit=64)
    train_small("cyclegan", tmp_path / "run", steps=10, **tiny)
    last = read_metrics(tmp_path / "run")[-1]
    assert last["step"] == 10 and {"variety_ab", "variety_ba", "intensity_ab", "intensity_ba"} <= set(last)
    train_small("cyclegan", tmp_path / "off", steps=10, collapse_warning=0, **tiny)
    assert "variety_ab" not in read_metrics(tmp_path / "off")[-1]
    # a real run whose G_BA is forced to a constant: the monitor warns while it trains
    monitor = TranslationMonitor(warmup_steps=0, every=1, stream=io.StringIO())
    train_small("cyclegan", tmp_path / "forced", steps=3, callbacks=[ForceConstant(), monitor], **tiny)
    assert len([w for w in monitor.warnings if "collapse of G_BA" in w]) == 3
