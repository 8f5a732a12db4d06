"""The CVAE's latent label adversary: its own optimizer, a finite leak term, and it stays out of sampling."""

from __future__ import annotations

import math

import torch

from genlab.data import load_dataset
from genlab.models.cvae import CVAE, CVAEConfig
from genlab.models.sampling_state import sampling_state_dict


def small_cvae(**options) -> CVAE:
    info = {"kind": "image", "shape": [1, 28, 28], "num_classes": 10}
    options.setdefault("width", 8)
    return CVAE(CVAEConfig(**options), info)


def batch(n: int = 32) -> dict[str, torch.Tensor]:
    return dict(load_dataset("fashion-mnist", split="test").subset(n).prepare())


def test_adversary_trains_on_its_own_optimizer_and_reports_the_leak(fashion_dir):
    torch.manual_seed(0)
    model = small_cvae(label_adversary=10.0, likelihood="logistic")
    model.optimizers = model.configure_optimizers()
    vae_params = {id(p) for g in model.optimizers["vae"].param_groups for p in g["params"]}
    adv_params = {id(p) for p in model.adversary.parameters()}
    assert adv_params and not (vae_params & adv_params)
    before = [p.detach().clone() for p in model.adversary.parameters()]
    logs = model.train_step(batch(), 0)
    assert all(torch.isfinite(v) for v in logs.values())
    # the leak is KL(uniform || adversary's guess): >= 0, and 0 only for a uniform guess
    assert logs["label_leak"] >= 0
    assert abs(float(logs["adversary"]) - math.log(10)) < 1.0  # an untrained adversary guesses near uniformly
    assert any(not torch.equal(a, b) for a, b in zip(before, model.adversary.parameters()))


def test_adversary_off_is_the_plain_cvae_and_never_needed_for_sampling(fashion_dir):
    plain = small_cvae(label_adversary=0.0)
    assert not hasattr(plain, "adversary") and set(plain.configure_optimizers()) == {"vae"}
    model = small_cvae(label_adversary=5.0)
    kept = sampling_state_dict(model)
    assert not any(k.startswith("adversary.") for k in kept)
