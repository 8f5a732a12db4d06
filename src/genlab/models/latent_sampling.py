"""The VAEs' choice of latent sampler: the prior N(0, I) or a fitted Gaussian mixture.

`LatentSampling` is mixed into `VAE` (and so `CVAE`) and `SeqVAE`; the
mixture itself is `models/latent_sampler.py`. A family supplies the codes to
fit on with `sampler_codes(data, limit, seed)`.

- ``config.sampler`` (prior | gmm, default gmm; the seqvae's ``auto`` picks
  per data, `configured_sampler`) and ``config.sampler_components``
  say what `sample` draws z from; `use_sampler(name)` overrides it for one model
  object (the CLI's ``--sampler``), ``sample(n, sampler=...)`` for one call.
- gmm by configuration but no mixture fitted (previews during training, a
  checkpoint written before the fit or by an older genlab): the prior,
  silently here; `sampler_note` is the one line the CLI prints. gmm asked for
  explicitly with none fitted is an error that says how to fit one.
- `fit_sampler(data)` encodes up to `limit` training items (posterior means
  E_q[z|x]; images binarised first when the model trains on binarised data)
  and fits the mixture, one per class for the CVAE; `finish_training` does this at the
  end of training when the config says gmm, before the final checkpoint.
- `extra_files` / `load_extra_files`: ``sampler.json`` + ``sampler.safetensors``
  beside the weights (checkpoints, `save_pretrained`, generator-only folders).

Only `sample` uses the mixture: `latent` (interpolation, traversals, export,
the web page's sliders) keeps drawing from the prior.
"""

from __future__ import annotations

import sys
from typing import Any

import torch

from ..errors import GenlabError
from .latent_sampler import DEFAULT_LIMIT, FILES, SAMPLERS, GaussianMixtureSampler, fit_gmm

NO_MIXTURE = "no Gaussian mixture is fitted for this model"
HOW_TO_FIT = "fit one with `genlab fit-sampler RUN`"


def check_sampler_name(name: str) -> str:
    if name not in SAMPLERS:
        raise GenlabError(f"unknown sampler {name!r}; valid samplers: {', '.join(SAMPLERS)}")
    return name


class LatentSampling:
    """Sampler choice, fitting and storage for the VAE families (see the module docstring)."""

    samplers = SAMPLERS
    extra_file_names = FILES
    #: the fitted mixture(s), or None
    latent_sampler: GaussianMixtureSampler | None = None
    #: `use_sampler`'s choice, or None for the config's
    sampler_override: str | None = None

    def configured_sampler(self) -> str:
        """The config's sampler (prior | gmm) for this model and its data."""
        return self.config.sampler

    def use_sampler(self, name: str | None) -> None:
        """Sample from `name` (prior | gmm) from now on; None goes back to the config's choice."""
        self.sampler_override = check_sampler_name(name) if name is not None else None
        self.sampler_in_use()  # gmm without a mixture is refused now, not at the first sample

    def sampler_in_use(self, name: str | None = None) -> str:
        """What `sample` draws z from: `name`, else `use_sampler`'s choice, else the config's;
        the config's gmm with no mixture fitted falls back to the prior."""
        explicit = name or self.sampler_override
        chosen = check_sampler_name(explicit or self.configured_sampler())
        if chosen == "gmm" and self.latent_sampler is None:
            if explicit:
                raise GenlabError(f"{NO_MIXTURE}; {HOW_TO_FIT} (or model.fit_sampler(data)), or use the "
                                  f"prior (--sampler prior)")
            return "prior"
        return chosen

    def sampler_note(self, source: Any = "this model") -> str | None:
        """The one line to show when the configured gmm falls back to the prior, else None."""
        if self.sampler_override is None and self.configured_sampler() == "gmm" and self.latent_sampler is None:
            return f"{source}: {NO_MIXTURE}; sampling from the prior N(0, I) ({HOW_TO_FIT})"
        return None

    def draw_latents(self, n: int, generator: torch.Generator | None, labels: torch.Tensor | None,
                     sampler: str | None = None) -> torch.Tensor:
        """`n` codes from the sampler in use (labels pick the CVAE's per-class mixture)."""
        if self.sampler_in_use(sampler) == "gmm":
            return self.latent_sampler.sample(n, generator, labels if self.conditional else None, self.device)
        return self.latent(n, generator)

    @torch.no_grad()
    def fit_sampler(self, data: Any, components: int | None = None, limit: int | None = DEFAULT_LIMIT,
                    seed: int = 0) -> GaussianMixtureSampler:
        """Fit the Gaussian mixture on the posterior means of up to `limit` images of `data`
        (its training split; drawn with `seed` when there are more) and keep it."""
        if limit is not None and limit < 1:
            raise GenlabError(f"--limit must be at least 1 item (got {limit})")
        codes, labels, fitted_on = self.sampler_codes(data, limit, seed)
        classes = self.num_classes if self.conditional else 0
        self.latent_sampler = fit_gmm(codes, labels, classes, components or self.config.sampler_components,
                                      seed=seed, fitted_on=fitted_on)
        return self.latent_sampler

    def sampler_codes(self, data: Any, limit: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor | None,
                                                                           dict[str, Any]]:
        """(N x latent posterior means of up to `limit` items of `data`, their labels or None, a description of
        what was encoded for ``sampler.json``): each family says how it encodes its data."""
        raise NotImplementedError

    def finish_training(self, data: Any) -> bool:
        """Fit the mixture on the training data when the config says gmm. A failed fit is
        reported in one line and leaves the prior: it never costs the final checkpoint."""
        if self.configured_sampler() != "gmm":
            return False
        try:
            self.fit_sampler(data)
        except (GenlabError, ValueError, ArithmeticError, MemoryError) as exc:
            self.latent_sampler = None
            reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            print(f"genlab: warning: could not fit the latent sampler ({reason}); samples come from the "
                  f"prior until `genlab fit-sampler RUN` succeeds", file=sys.stderr)
            return False
        return True

    def extra_files(self) -> dict[str, bytes]:
        return self.latent_sampler.to_files() if self.latent_sampler is not None else {}

    def load_extra_files(self, files: dict[str, bytes], source: Any = "this folder") -> None:
        classes = self.num_classes if self.conditional else 0
        self.latent_sampler = (GaussianMixtureSampler.from_files(files, self.config.latent_dim, classes, source)
                               if files else None)
