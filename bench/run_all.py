"""`make bench`: every benchmark with the arguments RESULTS.md was produced with.

Runs in roughly ten minutes on two cores (the 1M-case sweep dominates: seeding a million
cases is most of it). Figures print as Markdown tables to paste into RESULTS.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = [
    ["sweep.py", "--db", "both", "--due", "10000", "--open", "10000", "1000000"],
    ["import_throughput.py", "--db", "both", "--payloads", "100000", "--single", "3000"],
    ["transition.py", "--db", "both", "--cases", "1000"],
    ["http_flow.py", "--db", "both", "--flows", "300"],
    ["http_transitions.py", "--seconds", "15", "--pool", "40000"],
]


def main() -> int:
    for script, *args in RUNS:
        print(f"\n## {script} {' '.join(args)}", flush=True)
        result = subprocess.run([sys.executable, str(HERE / script), *args], check=False)
        if result.returncode != 0:
            return result.returncode
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
