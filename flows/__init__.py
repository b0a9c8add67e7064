"""Prefect flows, deployments and the `reconcile` command line."""
