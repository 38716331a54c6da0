"""Benchmarks of detect: `python3 -m bench` from the repository root (see bench/README.md). Not tests: nothing asserts."""
