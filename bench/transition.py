"""One case transition through the service layer vs the same writes by hand, same run.

    .venv/bin/python bench/transition.py --db both --cases 1000

The transition is an agent approving a Kuaishou return (requested → awaiting_return):
update the case, insert its event, supersede the old deadline row and insert the new one,
one transaction each. The service path is `cases.act` — it also loads the shop, the order
and its lines, the ledger and the profile, runs the transition table, guards and policy,
computes the deadline and checks the version. The hand path is the irreducible SQL: lock
and read the case row, then the four writes, through the driver with no ORM or Core
compilation. The ratio is what the layering and the checks cost per transition.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import timedelta
from typing import Any

from _common import T0, db_args, fresh_engine, kinds, table
from sqlalchemy import Engine

from aftersales.adapters.clock import FixedClock
from aftersales.adapters.ids import new_id
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.bootstrap import bootstrap
from aftersales.service import cases
from aftersales.service.ports import Principal
from integration.seeding import WINDOW, seed

HAND = {
    "lock": "SELECT state, state_seq, version, event_count FROM cases WHERE id = :id{lock}",
    "case": ("UPDATE cases SET state = 'awaiting_return', state_seq = :seq, state_entered_at = :now, "
             "approved_amount = requested_amount, first_response_at = :now, deadline_at = :due, "
             "deadline_outcome = 'auto_close', deadline_source = 'profile', "
             "deadline_rule = 'kuaishou.buyer_ship_return', version = :version + 1, "
             "event_count = :events + 1 WHERE id = :id AND version = :version"),
    "event": ("INSERT INTO case_events (id, shop_id, case_id, seq, at, actor, kind, from_state, "
              "to_state, explanation, reason_code, data) VALUES (:eid, :shop, :id, :events + 1, :now, "
              "'agent:bench', 'approve', 'requested', 'awaiting_return', 'approved', NULL, :data)"),
    "supersede": ("UPDATE deadlines SET status = 'superseded', settled_at = :now "
                  "WHERE case_id = :id AND status = 'pending'"),
    "deadline": ("INSERT INTO deadlines (id, shop_id, case_id, key, due_at, outcome, source, rule, "
                 "status) VALUES (:did, :shop, :id, :key, :due, 'auto_close', 'profile', "
                 "'kuaishou.buyer_ship_return', 'pending')"),
}


def _sql(engine: Engine) -> dict[str, str]:
    pg = engine.dialect.name == "postgresql"
    out = {}
    for name, sql in HAND.items():
        sql = sql.replace("{lock}", " FOR UPDATE" if pg else "")
        if pg:  # psycopg's named placeholders
            for key in ("id", "seq", "now", "due", "version", "events", "eid", "shop", "data", "did", "key"):
                sql = sql.replace(f":{key}", f"%({key})s")
        out[name] = sql
    return out


def _time(engine: Engine, value: Any) -> Any:
    """What the driver stores for a UTC time (SQLAlchemy keeps SQLite times naive, as text)."""
    return value.replace(tzinfo=None).isoformat(sep=" ") if engine.dialect.name == "sqlite" else value


def by_hand(engine: Engine, shop_id: str, ids: list[str], now: Any) -> float:
    sql = _sql(engine)
    due = now + WINDOW
    with engine.connect() as conn:
        started = time.perf_counter()
        for case_id in ids:
            with conn.begin():
                _, seq, version, events = conn.exec_driver_sql(sql["lock"], {"id": case_id}).one()
                params = {"id": case_id, "seq": seq + 1, "now": _time(engine, now),
                          "due": _time(engine, due), "version": version, "events": events,
                          "eid": new_id(), "shop": shop_id, "data": json.dumps({}), "did": new_id(),
                          "key": f"{seq + 1}:kuaishou.buyer_ship_return"}
                if conn.exec_driver_sql(sql["case"], params).rowcount != 1:
                    raise SystemExit("lost update")
                conn.exec_driver_sql(sql["event"], params)
                conn.exec_driver_sql(sql["supersede"], params)
                conn.exec_driver_sql(sql["deadline"], params)
        return time.perf_counter() - started


def run(kind: str, n: int) -> tuple[float, float]:
    with fresh_engine(kind) as (_, engine):
        clock = FixedClock(T0)
        app = bootstrap(engine=engine, clock=clock)
        seeded = seed(app, due=2 * n, base=T0, approve=False)
        clock.at = T0 - WINDOW - timedelta(days=1) + timedelta(hours=1)  # within the review window
        with engine.connect() as conn:
            ids = conn.exec_driver_sql(f"SELECT id FROM cases WHERE shop_id = '{seeded.shop.shop.id}' "
                                       "ORDER BY id").scalars().all()
        agent = Principal(seeded.shop.shop.id, Role.agent, actor_id="bench")
        started = time.perf_counter()
        for case_id in ids[:n]:
            cases.act(app.deps, agent, case_id, "approve")
        service = time.perf_counter() - started
        hand = by_hand(engine, seeded.shop.shop.id, list(ids[n:2 * n]), clock.at)
        with engine.connect() as conn:
            moved = conn.exec_driver_sql(
                "SELECT count(*) FROM cases WHERE state = 'awaiting_return'").scalar_one()
        if moved != 2 * n:
            raise SystemExit(f"{kind}: {moved} of {2 * n} cases moved")
        return service / n, hand / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    db_args(parser)
    parser.add_argument("--cases", type=int, default=1000, help="transitions per path")
    args = parser.parse_args()
    rows: list[list[object]] = []
    for kind in kinds(args):
        service, hand = run(kind, args.cases)
        rows.append([kind, f"{args.cases:,}", f"{1000 * service:.2f}", f"{1000 * hand:.2f}",
                     f"{service / hand:.1f}×"])
        print(rows[-1], flush=True)
    print(table(["database", "transitions per path", "service ms", "by hand ms", "ratio"], rows))


if __name__ == "__main__":
    main()
