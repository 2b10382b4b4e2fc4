"""Benchmarks of invsync's sync path (run as modules, e.g. `python -m bench.sync_bench`)."""
