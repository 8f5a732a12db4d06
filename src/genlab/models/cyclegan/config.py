"""CycleGAN hyper-parameters (defaults from the paper, scaled to image size).

Paper settings: ResNet-block generators, 70x70 PatchGAN discriminators,
LSGAN objective, cycle weight 10, identity weight 0.5 x cycle, a pool of 50
generated images for the discriminator updates, Adam 2e-4 with beta1 0.5,
learning rate held then decayed linearly to 0. The model does not know the
trainer's budget, so the decay is given in steps (`decay_start`,
`decay_steps`); it is off by default (a constant rate). For a run of S
steps, the paper's schedule is ``--decay-start S/2 --decay-steps S/2``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...config import option
from ...losses import check_loss


@dataclass
class CycleGANConfig:
    generator: str = option("resnet", help="generator architecture", choices=("resnet", "unet"))
    g_width: int = option(64, help="generator channels at full resolution", min=1)
    n_blocks: int = option(0, help="residual blocks of the ResNet generator (0 = 9 for 256px and up, else 6)", min=0)
    n_down: int = option(0, help="stride-2 downsamplings of the ResNet generator (0 = 2, the paper's; 1 below 64 px)",
                         min=0, max=4)
    d_width: int = option(64, help="discriminator channels at the first layer", min=1)
    d_layers: int = option(0, help="stride-2 layers of the PatchGAN (0 = adapt to the image size; 3 = 70x70)",
                           min=0, max=6)
    norm: str = option("instance", help="normalisation in both networks", choices=("instance", "batch", "none"))
    dropout: float = option(0.0, help="dropout in the generator's residual blocks / U-Net up layers", min=0, max=1)
    loss: str = option("lsgan", help="adversarial objective (lsgan, nonsaturating, hinge, wgan-gp, minimax)")
    lambda_cycle: float = option(10.0, help="weight of the cycle-consistency L1 losses", min=0)
    lambda_identity: float = option(0.5, help="weight of the identity losses, relative to lambda_cycle", min=0)
    pool_size: int = option(50, help="generated images kept in each history pool for D updates (0 = off)", min=0)
    lr: float = option(2e-4, help="Adam learning rate of generators and discriminators", min=0)
    lr_d: float = option(0.0, help="discriminators' learning rate (0 = the same as lr)", min=0)
    d_noise: float = option(0.0, help="std of Gaussian instance noise added to every discriminator input "
                                      "(pixels in [-1, 1]; 0 = off)", min=0)
    beta1: float = option(0.5, help="Adam beta1", min=0, max=1)
    beta2: float = option(0.999, help="Adam beta2", min=0, max=1)
    decay_start: int = option(0, help="step at which the learning rate starts its linear decay", min=0)
    decay_steps: int = option(0, help="steps of the linear decay to 0 (0 = constant learning rate)", min=0)
    spectral_norm: bool = option(False, help="spectral normalisation in the discriminators")
    collapse_warning: float = option(0.3, help="warn when a generator's translations vary less than this fraction "
                                               "of its target domain's images, or leave its intensity range "
                                               "(0 = no monitor)", min=0, max=1)
    keep_examples: int = option(16, help="training images of each domain stored with the model for sample()",
                                min=1, max=256)

    def validate(self) -> None:
        check_loss(self.loss)
