"""Issue 19's figure in CI: concurrent refund-causing tries through a served API (two
worker processes), on both databases: 0 over-refunds, 0 double entries, no server error.

A bounded count here (TRIES per database); bench/money_race.py runs the full 1,000.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from aftersales.adapters.db.migrate import upgrade
from aftersales.entrypoints.bootstrap import bootstrap
from money_race import prepare, run, served

TRIES = 150


@pytest.mark.xdist_group("servers")
def test_concurrent_refund_tries_never_over_refund(db_url: str, tmp_path: Path) -> None:
    app = bootstrap(db_url)
    upgrade(app.engine)
    app.engine.dispose()
    with served(db_url, tmp_path) as url, httpx.Client(
            base_url=f"{url}/api/v1", timeout=60,
            limits=httpx.Limits(max_connections=32)) as http:
        race = prepare(http, db_url, TRIES)
        outcome = run(race)
    assert outcome.tries >= TRIES
    assert outcome.server_errors == 0, outcome.by_scenario
    assert outcome.over_refunds == 0 and outcome.double_entries == 0, outcome
    assert 0 < outcome.booked <= outcome.took
    assert outcome.differences > 0  # the replays' and siblings' excess was kept, not booked
