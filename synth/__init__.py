"""Tooling beside the library: synthetic data with a known truth (`generate`), the
benchmarks against Splink and the stress matrix (`bench`), and scoring a run against the
truth (`evaluate`). The library (`reconcile`, `schemas`) never imports it (import
contract in pyproject.toml), and production wiring (`flows/deployments.py`) does not."""
