"""A deadline whose outcome cannot be performed neither stalls the sweep nor hides itself."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aftersales.domain.case import Case
from aftersales.domain.errors import RuleRefused
from aftersales.service import cases, timers
from aftersales.service.errors import Conflict

pytestmark = pytest.mark.xdist_group("sweep_failures")


def test_one_failing_outcome_does_not_stop_the_batch(make, app, clock, monkeypatch) -> None:
    """ARCHITECTURE.md: the worker re-checks each deadline; one that cannot apply is settled
    as failed, shown on the case as overdue with an event, and never retried — while the
    other due deadlines of the same batch still fire."""
    shop = make.shop("kuaishou")
    bad, good = make.case(shop), make.case(shop)
    real = Case.fire_deadline

    def fire(self: Case, key: str, now, ctx):
        if self.id == bad.case.id:
            raise RuleRefused("simulated refusal", code="simulated")
        return real(self, key, now, ctx)

    monkeypatch.setattr(Case, "fire_deadline", fire)
    clock.at = clock.at + timedelta(hours=49)
    fired = timers.sweep(app.deps, clock.at)
    assert [f.case_id for f in fired] == [good.case.id]
    assert timers.sweep(app.deps, clock.at) == []  # the failed row is not retried
    view = cases.get(app.deps, make.principal(shop), bad.case.id)
    assert view.case.overdue and view.case.state.value == "requested"
    with app.deps.uow() as uow:
        kinds = [e.kind for e in uow.cases.events(shop.shop.id, bad.case.id)]
    assert kinds[-1] == "deadline_failed"


def test_a_conflict_leaves_the_deadline_for_the_next_sweep(make, app, clock, monkeypatch) -> None:
    """A case changed by someone else meanwhile is re-checked later, not marked failed."""
    shop = make.shop("kuaishou")
    loaded = make.case(shop)
    real = timers.fire_one
    calls = {"n": 0}

    def flaky(deps, store, due, now):
        calls["n"] += 1
        if calls["n"] == 1:
            raise Conflict("raced")
        return real(deps, store, due, now)

    monkeypatch.setattr(timers, "fire_one", flaky)
    clock.at = clock.at + timedelta(hours=49)
    assert timers.sweep(app.deps, clock.at) == []
    fired = timers.sweep(app.deps, clock.at)
    assert [f.case_id for f in fired] == [loaded.case.id]
