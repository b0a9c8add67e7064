"""Reconciliation of Kemensos beneficiary lists against the BPS register.

The library knows nothing of Prefect: `flows/` wires these stages into a flow.
Stage order: ingest -> validate -> standardise -> match (block, compare, score,
cluster, link) -> discrepancies -> outputs.
"""
