"""Fixtures of the integration tests that more than one module uses."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from integration.locks import Held


@pytest.fixture
def held(pg_url: str) -> Iterator[Callable[..., Held]]:
    """`held(case_id, after=4.0)`: the case's row locked from outside the app (locks.Held),
    let go at the test's end at the latest."""
    made: list[Held] = []

    def hold(case_id: str, after: float = 4.0) -> Held:
        made.append(Held(pg_url, case_id, after))
        return made[-1]

    yield hold
    for h in made:
        h.close()
