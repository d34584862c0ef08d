"""Writes sent behind (statements.write_behind, PostgreSQL): a write whose answer nobody
reads waits on its connection and goes out with the next statement. These tests hold it to
behaving as if it had run at once: everything after it sees it, its error is raised, and
what a unit of work did not commit never reaches the database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, Integer, text
from sqlalchemy.exc import IntegrityError

from aftersales.adapters.db import libpq
from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.db.statements import BEHIND, raw_read, write_behind
from aftersales.adapters.db.uow import SqlUnitOfWork

pytestmark = pytest.mark.postgres

INSERT = text("INSERT INTO behind_probe (id, note) VALUES (:id, :note)")
COUNT = text("SELECT count(*) AS n FROM behind_probe WHERE note = :note").columns(n=Integer)


@pytest.fixture
def one(pg_url: str) -> Iterator[Engine]:
    """One connection (every unit of work gets the same one), a table of its own."""
    engine = make_engine(pg_url, pool_size=1, max_overflow=0)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS behind_probe "
                             "(id text PRIMARY KEY, note text NOT NULL)")
    yield engine
    engine.dispose()


def _uow(engine: Engine) -> SqlUnitOfWork:
    return SqlUnitOfWork(engine, lambda: str(uuid.uuid4()))


def _count(engine: Engine, note: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(COUNT, {"note": note}).scalar_one())


def test_a_write_behind_is_seen_by_the_next_raw_and_sqlalchemy_statements(one: Engine) -> None:
    note = uuid.uuid4().hex
    with _uow(one) as uow:
        assert uow.conn is not None
        write_behind(uow.conn, INSERT, {"id": uuid.uuid4().hex, "note": note})
        assert BEHIND in uow.conn.info  # not sent yet
        assert raw_read(uow.conn, COUNT, {"note": note}).n == 1  # sent with this read
        write_behind(uow.conn, INSERT, {"id": uuid.uuid4().hex, "note": note})
        assert uow.conn.execute(COUNT, {"note": note}).scalar_one() == 2  # through SQLAlchemy
        write_behind(uow.conn, INSERT, {"id": uuid.uuid4().hex, "note": note})
        uow.commit()  # the third goes out with the COMMIT
    assert _count(one, note) == 3


def test_a_failing_write_behind_raises_at_the_next_statement_and_nothing_is_committed(
        one: Engine) -> None:
    note, taken = uuid.uuid4().hex, uuid.uuid4().hex
    with _uow(one) as uow:
        assert uow.conn is not None
        raw_read(uow.conn, COUNT, {"note": note})
        uow.conn.execute(INSERT, {"id": taken, "note": note})
        write_behind(uow.conn, INSERT, {"id": taken, "note": note})  # the same key again
        with pytest.raises(IntegrityError):
            raw_read(uow.conn, COUNT, {"note": note})
    assert _count(one, note) == 0
    with one.begin() as conn:
        conn.execute(INSERT, {"id": taken, "note": "earlier"})
    with _uow(one) as uow:
        assert uow.conn is not None
        write_behind(uow.conn, INSERT, {"id": uuid.uuid4().hex, "note": note})
        write_behind(uow.conn, INSERT, {"id": taken, "note": note})  # taken by a committed row
        with pytest.raises(IntegrityError):
            uow.commit()
    assert _count(one, note) == 0


def test_the_writes_behind_and_the_commit_go_out_in_one_round_trip(
        one: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """uow.commit sends the queued writes and the COMMIT with one sync; psycopg then finds
    no transaction open and sends no COMMIT of its own."""
    pipelines: list[tuple[int, bool, bool]] = []
    real = libpq._pipelined

    def spy(driver: Any, names: list[bytes], values: Any, begin: bool, commit: bool = False) -> Any:
        pipelines.append((len(names), begin, commit))
        return real(driver, names, values, begin, commit)

    monkeypatch.setattr(libpq, "_pipelined", spy)
    note = uuid.uuid4().hex
    commands: list[bytes] = []
    with _uow(one) as uow:
        assert uow.conn is not None
        raw_read(uow.conn, COUNT, {"note": note})  # BEGIN and the read
        write_behind(uow.conn, INSERT, {"id": uuid.uuid4().hex, "note": note})
        write_behind(uow.conn, INSERT, {"id": uuid.uuid4().hex, "note": note})
        psycopg = uow.conn.connection.driver_connection
        own = psycopg._exec_command  # type: ignore[union-attr]

        def exec_command(command: bytes, *args: Any, **kw: Any) -> Any:
            commands.append(command)
            return own(command, *args, **kw)

        monkeypatch.setattr(psycopg, "_exec_command", exec_command)
        uow.commit()
    assert pipelines == [(1, True, False), (2, False, True)]
    assert not [c for c in commands if b"COMMIT" in bytes(c)]
    assert _count(one, note) == 2


def test_a_commit_that_fails_in_the_round_trip_raises_and_leaves_the_connection_usable(
        one: Engine) -> None:
    """A deferred constraint is checked by the COMMIT itself, sent with the writes."""
    with one.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS behind_deferred (k text, "
                             "CONSTRAINT behind_deferred_k UNIQUE (k) DEFERRABLE INITIALLY DEFERRED)")
    insert = text("INSERT INTO behind_deferred (k) VALUES (:k)")
    key = uuid.uuid4().hex
    with _uow(one) as uow:
        assert uow.conn is not None
        raw_read(uow.conn, COUNT, {"note": key})
        write_behind(uow.conn, insert, {"k": key})
        write_behind(uow.conn, insert, {"k": key})  # accepted until the COMMIT
        with pytest.raises(IntegrityError, match="behind_deferred_k"):
            uow.commit()
    with _uow(one) as uow:  # the same connection, usable
        assert uow.conn is not None
        write_behind(uow.conn, insert, {"k": key})
        uow.commit()
    with one.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM behind_deferred WHERE k = :k"),
                            {"k": key}).scalar_one() == 1


def test_writes_a_unit_of_work_did_not_commit_never_reach_the_next_one(one: Engine) -> None:
    note = uuid.uuid4().hex
    with _uow(one) as uow:
        assert uow.conn is not None
        write_behind(uow.conn, INSERT, {"id": uuid.uuid4().hex, "note": note})
        # leaves without committing (an error, a refusal)
    with _uow(one) as uow:  # the same connection from the pool
        assert uow.conn is not None
        assert BEHIND not in uow.conn.info
        raw_read(uow.conn, COUNT, {"note": note})
        uow.commit()
    assert _count(one, note) == 0


def test_a_savepoint_rolled_back_drops_its_own_writes_not_the_earlier_ones(one: Engine) -> None:
    note = uuid.uuid4().hex
    with _uow(one) as uow:
        assert uow.conn is not None
        write_behind(uow.conn, INSERT, {"id": "before-" + note, "note": note})
        with pytest.raises(RuntimeError), uow.savepoint():
            write_behind(uow.conn, INSERT, {"id": "inside-" + note, "note": note})
            write_behind(uow.conn, INSERT, {"id": "before-" + note, "note": note})  # (a clash)
            raise RuntimeError("refused")  # raised as it is, the clash never sent
        uow.commit()
    with one.connect() as conn:
        ids = conn.execute(text("SELECT id FROM behind_probe WHERE note = :note"),
                           {"note": note}).scalars().all()
    assert ids == ["before-" + note]


def test_sqlite_runs_a_write_behind_at_once(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/b.db")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE behind_probe (id text PRIMARY KEY, note text)")
        with _uow(engine) as uow:
            assert uow.conn is not None
            write_behind(uow.conn, INSERT, {"id": "a", "note": "n"})
            assert BEHIND not in uow.conn.info
            uow.commit()
        assert _count(engine, "n") == 1
    finally:
        engine.dispose()
