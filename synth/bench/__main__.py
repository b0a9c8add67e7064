"""python -m synth.bench 200000 1000000"""

from __future__ import annotations

import sys
from pathlib import Path

from synth.bench import run_bench

print(run_bench([int(a) for a in sys.argv[1:]] or [200_000], Path("data/bench")))
