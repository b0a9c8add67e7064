"""Matching engine: standardise, block, compare, score (EM), link and deduplicate.

`match(con)` reads clean_kemensos and clean_bps and writes std_kemensos, std_bps,
pairs_blocked, pairs_scored, kemensos_persons and links (see README_MATCHING.md).
"""

from __future__ import annotations

from reconcile.match.engine import match as match
from reconcile.match.settings import MatchSettings as MatchSettings
