"""CycleGAN hyper-parameters.

The paper's settings (Zhu et al. 2017): ResNet-block generators, PatchGAN
discriminators (70x70 from 128 px; smaller patches for smaller images),
LSGAN objective, cycle weight 10, identity weight 0.5 x cycle, a pool of 50
generated images for the discriminator updates, Adam 2e-4 with beta1 0.5,
learning rate held for half the run then decayed linearly to 0. Sizes, cycle
weight and learning rate left unset (None) come from a preset: the paper's
from 64 px, a measured one for smaller images (`presets.py`). The decay
follows the run's length when it is known (`schedule.py`), or explicit steps
(`decay_start`, `decay_steps`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ...config import option
from ...losses import check_loss


@dataclass
class CycleGANConfig:
    preset: str = option("auto", help="defaults for the options left unset: paper (Zhu et al. 2017), small (for "
                                      "images under 64 px) or auto (small under 64 px, else paper); see presets.py",
                         choices=("auto", "small", "paper"))
    generator: str = option("resnet", help="generator architecture", choices=("resnet", "unet"))
    g_width: Optional[int] = option(None, help="generator channels at full resolution (preset: paper 64, small 16)",
                                    min=1)
    n_blocks: Optional[int] = option(None, help="residual blocks of the ResNet generator (paper 6, 9 from 256 px; "
                                                "small 3)", min=0)
    n_down: Optional[int] = option(None, help="stride-2 downsamplings of the ResNet generator (paper 2, small 1)",
                                   min=1, max=4)
    upsample: Optional[str] = option(None, help="the ResNet generator's upsampling: transpose (stride-2 transposed "
                                                "convolutions, the paper's) or resize (nearest doubling + 3x3 conv, "
                                                "small)", choices=("transpose", "resize"))
    d_width: Optional[int] = option(None, help="discriminator channels at the first layer (paper 64, small 16)",
                                    min=1)
    d_layers: int = option(0, help="stride-2 layers of the PatchGAN (0 = adapt to the image size; 3 = 70x70)",
                           min=0, max=6)
    norm: str = option("instance", help="normalisation in both networks", choices=("instance", "batch", "none"))
    dropout: float = option(0.0, help="dropout in the generator's residual blocks / U-Net up layers", min=0, max=1)
    loss: str = option("lsgan", help="adversarial objective (lsgan, nonsaturating, hinge, wgan-gp, minimax)")
    lambda_cycle: Optional[float] = option(None, help="weight of the cycle-consistency L1 losses (paper 10, "
                                                      "small 0.5)", min=0)
    lambda_identity: float = option(0.5, help="weight of the identity losses, relative to lambda_cycle", min=0)
    pool_size: int = option(50, help="generated images kept in each history pool for D updates (0 = off)", min=0)
    lr: Optional[float] = option(None, help="Adam learning rate of generators and discriminators (paper 2e-4, "
                                            "small 4e-4)", min=0)
    beta1: float = option(0.5, help="Adam beta1", min=0, max=1)
    beta2: float = option(0.999, help="Adam beta2", min=0, max=1)
    decay_start: int = option(0, help="step at which the learning rate starts its linear decay", min=0)
    decay_steps: int = option(0, help="steps of the linear decay to 0 (0 = automatic, see auto_decay)", min=0)
    auto_decay: bool = option(True, help="with decay_steps 0: hold the learning rate for the first half of a run of "
                                         "known length (--steps, --epochs), then decay it linearly to 0")
    spectral_norm: bool = option(False, help="spectral normalisation in the discriminators")
    collapse_warning: float = option(0.3, help="warn when a generator's translations vary less than this fraction "
                                               "of its target domain's images, or leave its intensity range "
                                               "(0 = no monitor)", min=0, max=1)
    keep_examples: int = option(16, help="training images of each domain stored with the model for sample()",
                                min=1, max=256)

    def validate(self) -> None:
        check_loss(self.loss)
