"""genlab test suite."""
