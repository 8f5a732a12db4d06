"""The one exception type raised by genlab.metrics for user-facing problems."""

from ..errors import GenlabError


class MetricsError(GenlabError):
    """A metrics request cannot be served; the message is one line saying why and what to do."""
