"""Hyper-parameter search and sensitivity on Optuna: `genlab sweep`.

``sweep("dcgan", data="fashion-mnist", trials=30, budget="--steps 400")``
searches the family's default space (``models/<family>/space.py``, overridable
by a YAML file) with TPE, prunes weak trials from the periodic evaluation, and
keeps every trial as an ordinary run folder. The study lives in SQLite in the
sweep folder or any SQLAlchemy URL, so a sweep resumes where it stopped and
several processes or machines can share it. Results: ``best.yaml`` for
`genlab train --config`, a table of trials, fANOVA importances and plots.
"""

from .results import format_table, importances, trial_rows, write_best, write_plots
from .runner import SweepResult, open_sweep, sweep
from .spec import SweepSpec, build_spec

__all__ = ["SweepResult", "SweepSpec", "build_spec", "format_table", "importances", "open_sweep", "sweep",
           "trial_rows", "write_best", "write_plots"]
