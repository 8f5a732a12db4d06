"""A plain multi-layer perceptron."""

from __future__ import annotations

from torch import nn


class MLP(nn.Sequential):
    """Linear layers with an activation (and optional dropout) between them."""

    def __init__(self, sizes: list[int], activation: type[nn.Module] | nn.Module = nn.ReLU,
                 dropout: float = 0.0, out_activation: nn.Module | None = None):
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(activation() if isinstance(activation, type) else activation)
                if dropout:
                    layers.append(nn.Dropout(dropout))
        if out_activation is not None:
            layers.append(out_activation)
        super().__init__(*layers)
