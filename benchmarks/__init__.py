"""The speed harness: `python -m benchmarks.run` (see docs/speed.md); not part of the package."""
