"""`aftersales import`'s code path on both databases: the batched path writes exactly what
the per-payload path writes, bad lines are named by number, a replay changes nothing.

Why compare the two paths: the batched path exists only for speed; if it ever stored a
different state, version, deadline or history than the handler's own transaction would,
imports would quietly diverge from the API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from aftersales.adapters.db import tables as t
from aftersales.entrypoints.bootstrap import App
from aftersales.entrypoints.importer import import_file
from conftest import Make
from integration.payloads import kuaishou_stream

BAD = ['{"refundId": ', '[1, 2]', '{"refundId": 1}', '']


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "payloads.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _snapshot(app: App, shop_id: str) -> dict[str, Any]:
    """Everything an import leaves behind for a shop, keyed by platform ids, not our ids."""
    c, e, d = t.cases.c, t.case_events.c, t.deadlines.c
    with app.engine.connect() as conn:
        rows = conn.execute(select(t.cases).where(c.shop_id == shop_id)).all()
        by_id = {r.id: r.platform_case_id for r in rows}
        events: dict[str, list[tuple[Any, ...]]] = {}
        for ev in conn.execute(select(e.case_id, e.seq, e.kind, e.from_state, e.to_state, e.actor,
                                      e.at, e.explanation, e.data)
                               .where(e.shop_id == shop_id).order_by(e.case_id, e.seq)).all():
            events.setdefault(by_id[ev.case_id], []).append(tuple(ev)[1:])
        pending = {by_id[r.case_id]: (r.key, r.due_at, r.outcome) for r in conn.execute(
            select(d.case_id, d.key, d.due_at, d.outcome).where(
                d.shop_id == shop_id, d.status == "pending")).all()}
        orders = conn.execute(select(t.orders.c.platform_order_id).where(
            t.orders.c.shop_id == shop_id)).scalars().all()
        refunds = sorted((by_id[r.case_id], r.round, r.kind, r.amount, r.status, r.created_at)
                         for r in conn.execute(select(t.refunds).where(
                             t.refunds.c.shop_id == shop_id)).all())
        # JSON stored as the JSON `null` (not SQL NULL), as SQLAlchemy's JSON type stores None.
        no_inspection = conn.execute(select(c.id).where(
            c.shop_id == shop_id, c.inspection.is_(None))).all()
    cases = {r.platform_case_id: (r.state, r.state_seq, r.version, r.event_count, r.platform_status,
                                  r.platform_version, r.requested_amount, r.deadline_at,
                                  r.opened_at, r.state_entered_at, r.fired, r.inspection,
                                  [ln["quantity"] for ln in r.lines], r.overdue)
             for r in rows}
    return {"cases": cases, "events": events, "pending": pending, "orders": sorted(orders),
            "refunds": refunds, "sql_null_inspection": len(no_inspection)}


def test_batched_import_stores_what_the_per_payload_path_stores(app: App, make: Make,
                                                                tmp_path: Path) -> None:
    lines = kuaishou_stream(60)
    lines[7:7] = BAD[:1]
    lines[20:20] = BAD[1:3]
    path = _write(tmp_path, lines)
    batched, single = make.shop("kuaishou"), make.shop("kuaishou")
    one = import_file(app, batched.shop.id, "kuaishou", path, batch=16)
    two = import_file(app, single.shop.id, "kuaishou", path, staged=False)
    assert [(e.line, e.code) for e in one.errors] == [(e.line, e.code) for e in two.errors]
    assert [e.line for e in one.errors] == [8, 21, 22]
    assert (one.created, one.updated, one.unchanged) == (two.created, two.updated, two.unchanged)
    assert one.created > 10 and one.updated > 10 and one.replayed_batches == 0
    assert _snapshot(app, batched.shop.id) == _snapshot(app, single.shop.id)


def test_replaying_an_import_changes_nothing(app: App, make: Make, tmp_path: Path) -> None:
    shop = make.shop("kuaishou")
    path = _write(tmp_path, kuaishou_stream(30, start=1000))
    import_file(app, shop.shop.id, "kuaishou", path, batch=7)
    before = _snapshot(app, shop.shop.id)
    again = import_file(app, shop.shop.id, "kuaishou", path, batch=7)
    assert again.created == again.updated == 0 and again.unchanged == 30
    assert _snapshot(app, shop.shop.id) == before


def test_a_continued_stream_updates_cases_from_earlier_batches(app: App, make: Make,
                                                               tmp_path: Path) -> None:
    """Later versions of a case arrive in a later file: the batch loads it, bumps its version."""
    stream = kuaishou_stream(50, start=2000)
    first = [x for i, x in enumerate(stream) if i % 5 < 2]
    rest = [x for i, x in enumerate(stream) if i % 5 >= 2]
    a, b = make.shop("kuaishou"), make.shop("kuaishou")
    import_file(app, a.shop.id, "kuaishou", _write(tmp_path, first), batch=5)
    import_file(app, a.shop.id, "kuaishou", _write(tmp_path, rest), batch=5)
    import_file(app, b.shop.id, "kuaishou", _write(tmp_path, first), staged=False)
    import_file(app, b.shop.id, "kuaishou", _write(tmp_path, rest), staged=False)
    assert _snapshot(app, a.shop.id) == _snapshot(app, b.shop.id)


def test_two_import_processes_store_what_one_stores(app: App, make: Make, tmp_path: Path) -> None:
    """Split by order among forked processes: same cases, versions, history; each bad line
    reported once; progress reaches the file's size."""
    lines = kuaishou_stream(80, start=3000)
    lines[9:9] = BAD[:1]
    lines[30:30] = BAD[1:3]
    path = _write(tmp_path, lines)
    parallel, single = make.shop("kuaishou"), make.shop("kuaishou")
    seen: list[int] = []
    two = import_file(app, parallel.shop.id, "kuaishou", path, batch=9, jobs=2, advance=seen.append)
    one = import_file(app, single.shop.id, "kuaishou", path, staged=False)
    assert [(e.line, e.code) for e in two.errors] == [(e.line, e.code) for e in one.errors]
    assert [e.line for e in two.errors] == [10, 31, 32]
    assert (two.created, two.updated, two.unchanged) == (one.created, one.updated, one.unchanged)
    assert _snapshot(app, parallel.shop.id) == _snapshot(app, single.shop.id)
    assert sum(seen) == path.stat().st_size


def test_a_shared_order_goes_to_one_process(tmp_path: Path) -> None:
    from aftersales.adapters.platforms import adapter_for
    from aftersales.entrypoints.importer import _owner

    adapter = adapter_for("kuaishou")
    payloads = [{"oid": 77, "refundId": n} for n in range(20)]
    assert len({_owner(adapter, n, p, 2) for n, p in enumerate(payloads)}) == 1
    spread = {_owner(adapter, 1, {"oid": n}, 2) for n in range(20)}
    assert spread == {0, 1}
