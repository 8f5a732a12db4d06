"""User-facing errors.

A `GenlabError` carries a one-line message that names the problem and the fix.
The CLI prints it as ``genlab: error: <message>`` and exits with code 2; the
Python API lets it propagate so notebooks see the same sentence.
"""


class GenlabError(Exception):
    """A problem with the user's input or environment, explained in one line."""

    exit_code = 2


class ConfigError(GenlabError):
    """An unknown configuration key or an invalid value."""


class DataError(GenlabError):
    """A dataset that is unknown, missing or malformed."""


class CheckpointError(GenlabError):
    """A checkpoint that is missing, corrupt, unsafe or incompatible."""
