"""Benchmarks: ``python -m bench`` runs them and records results in bench/results.json."""
