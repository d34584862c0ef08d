"""Shared by the benchmark scripts: fresh databases, the test helpers, a results table.

Benchmarks are scripts, not tests: they print figures and append them to bench/RESULTS.md
by hand. Each run makes its own database (a temporary SQLite file, or a new PostgreSQL
database dropped afterwards), so figures never depend on what an earlier run left behind.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the seeding and payload helpers live with the tests

from conftest import T0, migrated_engine, postgres_database  # noqa: E402

__all__ = ["T0", "analyze", "db_args", "fresh_engine", "kinds", "postgres_cpu", "table"]


def db_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")


def kinds(args: argparse.Namespace) -> list[str]:
    return ["sqlite", "postgresql"] if args.db == "both" else [args.db]


@contextmanager
def fresh_engine(kind: str) -> Iterator[tuple[str, Engine]]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="as-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            with migrated_engine(url) as engine:
                yield url, engine
    else:
        with postgres_database() as url, migrated_engine(url) as engine:
            yield url, engine


def analyze(engine: Engine) -> None:
    """Fresh statistics after bulk seeding, as autovacuum would give a real database."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A Markdown table, ready to paste into RESULTS.md."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


PG_PID_FILE = Path("/var/run/postgresql/15-main.pid")


def postgres_cpu() -> float:
    """CPU seconds of the PostgreSQL server: live processes plus the exited ones the
    postmaster has reaped (/proc), or 0 when this is not the local cluster."""
    try:
        master = int(PG_PID_FILE.read_text().split()[0])
        fields = Path(f"/proc/{master}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return 0.0
    ticks = sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == master:
            continue
        try:
            other = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(other[1]) == master:
            ticks += int(other[11]) + int(other[12])
    return ticks / os.sysconf("SC_CLK_TCK")
