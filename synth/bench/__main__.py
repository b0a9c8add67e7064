"""python -m synth.bench 200000 1000000 | python -m synth.bench independent"""

from __future__ import annotations

import sys
from pathlib import Path

from synth.bench import run_bench, run_independent

if sys.argv[1:] == ["independent"]:
    print(run_independent(Path("data/bench/independent")))
else:
    print(run_bench([int(a) for a in sys.argv[1:]] or [200_000], Path("data/bench")))
