"""python -m reconcile.bench 200000 1000000"""

from __future__ import annotations

import sys
from pathlib import Path

from reconcile.bench import run_bench

print(run_bench([int(a) for a in sys.argv[1:]] or [200_000], Path("data/bench")))
