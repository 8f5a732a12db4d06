"""SeqVAE: a recurrent VAE for time series and character sequences (Bowman et al. 2016)."""

from .model import SeqVAE, SeqVAEConfig

__all__ = ["SeqVAE", "SeqVAEConfig"]
