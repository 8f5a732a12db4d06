"""Image completion (inpainting) with a trained image model.

`parse_mask` reads which pixels are hidden (``box:x,y,w,h`` or a mask PNG);
`complete` fills them: the VAE families by iterating encode-decode on the
image with its visible pixels kept, the GAN families by optimising the latent
code so that the generated image matches the visible pixels (with a Gaussian
prior term and several restarts); `scores` measures a completion against the
true image on the hidden region. ``genlab inpaint`` (cli/inpaint.py) and
benchmarks/inpainting.py are thin layers over these.
"""

from .complete import complete, mean_fill
from .mask import parse_mask
from .scores import hidden_scores

__all__ = ["complete", "hidden_scores", "mean_fill", "parse_mask"]
