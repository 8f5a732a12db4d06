"""The parts behind genlab's training speed: layout-keeping reshapes and the CPU allocator setting."""

from __future__ import annotations

import copy
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from genlab.nn.conv import DownStack, Flatten, UpStack

CL = torch.channels_last


def _is_nhwc(t: torch.Tensor) -> bool:
    return t.is_contiguous(memory_format=CL) and not t.is_contiguous()


def _flatten_grad(flatten: nn.Module, x: torch.Tensor, w: torch.Tensor):
    """Output of `flatten` on a copy of x, and the gradient that reaches x's layer
    (a non-leaf: leaves get .grad re-laid to their own layout, hiding the difference)."""
    leaf = x.clone().requires_grad_(True)
    h = leaf * 1.0  # keeps x's layout
    grads = []
    h.register_hook(grads.append)
    y = flatten(h)
    (y @ w).square().sum().backward()
    return y, grads[0]


def test_flatten_matches_nn_flatten_and_keeps_gradient_layout():
    x, w = torch.randn(5, 6, 7, 7), torch.randn(6 * 49, 3)
    for layout in (torch.contiguous_format, CL):
        xl = x.to(memory_format=layout)
        ya, ga = _flatten_grad(Flatten(), xl, w)
        yb, gb = _flatten_grad(nn.Flatten(), xl, w)
        assert torch.equal(ya, yb) and torch.equal(ga, gb)
        assert _is_nhwc(ga) == (layout is CL)
        # nn.Flatten hands back an NCHW gradient even for a channels-last input: the case this fixes
        assert not _is_nhwc(gb)


def test_flatten_twice_differentiable():
    x = torch.randn(2, 3, 4, 4, dtype=torch.double).to(memory_format=CL).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: Flatten()(t).sin(), (x,))
    assert torch.autograd.gradgradcheck(lambda t: Flatten()(t).sin(), (x,))


@pytest.mark.parametrize("project", ["linear", "conv"])
def test_channels_last_stacks_agree_with_nchw(project):
    torch.manual_seed(0)
    up, down = UpStack(8, 1, 28, 16, project=project), DownStack(1, 28, 16)
    net = nn.Sequential(up, down, Flatten()).double()
    net_cl = copy.deepcopy(net).to(memory_format=CL)
    z = torch.randn(4, 8, dtype=torch.double)
    y, y_cl = net(z), net_cl(z)
    torch.testing.assert_close(y_cl, y, rtol=1e-4, atol=1e-5)
    y.square().sum().backward()
    y_cl.square().sum().backward()
    for (name, p), p_cl in zip(net.named_parameters(), net_cl.parameters()):
        torch.testing.assert_close(p_cl.grad, p.grad, rtol=1e-3, atol=1e-5, msg=name)


def test_decoder_activations_stay_channels_last():
    """Every 4-d tensor the decoder's body sees is NHWC once the model is channels-last."""
    up = UpStack(8, 1, 28, 16, project="linear").to(memory_format=CL)
    seen = []
    for m in up.body:
        m.register_forward_pre_hook(lambda mod, args: seen.append(_is_nhwc(args[0])))
    up(torch.randn(4, 8))
    assert seen and all(seen)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_keep_freed_memory_stops_page_faults_between_steps():
    """A small conv net's training step page-faults hundreds of times by default (glibc
    hands freed pages back and the next step touches fresh ones); after
    keep_freed_memory() the pages are reused."""
    code = textwrap.dedent("""
        import resource, torch
        from torch import nn
        from genlab.nn.conv import DownStack, UpStack
        from genlab.training.allocator import keep_freed_memory
        torch.manual_seed(0)
        net = nn.Sequential(UpStack(16, 1, 28, 32, project="linear"), DownStack(1, 28, 32))
        opt = torch.optim.Adam(net.parameters())
        z = torch.randn(64, 16)
        def faults(steps=40):
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            for _ in range(steps):
                opt.zero_grad()
                net(z).square().mean().backward()
                opt.step()
            return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / steps
        faults()
        default = faults()
        assert keep_freed_memory()
        faults()
        kept = faults()
        print(default, kept)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    default, kept = map(float, out.stdout.split())
    assert default > 200, default  # page faults per training step

    assert kept < default / 20, (default, kept)
