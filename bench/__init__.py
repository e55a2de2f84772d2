"""Benchmarks; run each from the repository root as a module: ``.venv/bin/python -m bench.ingest``
(figures and commands: bench/RESULTS.md)."""
