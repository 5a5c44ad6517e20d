"""The speed harness: `python -m benchmarks.run` (see README "Speed"); not part of the package."""
