"""Realistic platform payload streams, multiplied from the recorded Kuaishou fixtures.

Why from the fixtures: the adapters are strict (a guessed payload would be refused), and
the fixture history of one refund — requested, approved, returned, refunded — is what a
real sync stream looks like. Each copy gets its own refund id and order id; some copies
carry the whole history (one create, then updates), others only their latest version.
Also used by bench/import_throughput.py.
"""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).parent.parent / "fixtures" / "platforms"


def kuaishou_history() -> list[dict[str, object]]:
    lines = (FIXTURES / "kuaishou" / "sync.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def kuaishou_stream(payloads: int, *, start: int = 0) -> list[str]:
    """`payloads` JSON lines: cases alternately with their full history and latest only."""
    history = kuaishou_history()
    out: list[str] = []
    k = start
    while len(out) < payloads:
        versions = history if k % 2 == 0 else history[-1:]
        for payload in versions:
            copy = dict(payload)
            copy["refundId"] = int(str(payload["refundId"])) + 10 * k + 1
            copy["oid"] = int(str(payload["oid"])) + 10 * k + 1
            out.append(json.dumps(copy, ensure_ascii=False))
        k += 1
    return out[:payloads]
