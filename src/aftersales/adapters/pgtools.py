"""pg_dump and pg_restore for backups: found on this machine, run with the database's URL.

The binaries come from AFTERSALES_PG_BINDIR, else `pg_config --bindir`, else the newest
/usr/lib/postgresql/*/bin, else the PATH; none found is a one-line error saying what to
install. The password travels in PGPASSWORD, never on a command line others can read.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import TupleRow
from sqlalchemy.engine import URL

from aftersales.domain.errors import InvalidInput


class PgToolError(InvalidInput):
    code = "backup_failed"


def _candidates() -> list[Path]:
    found: list[Path] = []
    if env := os.environ.get("AFTERSALES_PG_BINDIR"):
        found.append(Path(env))
    if pg_config := shutil.which("pg_config"):
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                 timeout=10, check=True).stdout.strip()
            found.append(Path(out))
        except (OSError, subprocess.SubprocessError):
            pass
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                      key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    found.extend(Path(p) for p in reversed(versions))
    return found


def tool(name: str) -> str:
    for folder in _candidates():
        if (folder / name).is_file() and os.access(folder / name, os.X_OK):
            return str(folder / name)
    if on_path := shutil.which(name):
        return on_path
    raise PgToolError(f"{name} not found (install the PostgreSQL client, e.g. "
                      f"`apt-get install postgresql-client`, or set AFTERSALES_PG_BINDIR)")


def _conninfo(url: URL) -> tuple[str, dict[str, str]]:
    """A PostgreSQL connection URI without the password, and the environment that carries it."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.SubprocessError) as exc:
        raise PgToolError(f"{what} could not run: {exc}") from None
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        raise PgToolError(f"{what} failed: {lines[0] if lines else f'exit {done.returncode}'}")


def _value(conn: psycopg.Connection[TupleRow], sql: str) -> Any:
    """The one value a one-row query answers."""
    row = conn.execute(sql).fetchone()
    if row is None:
        raise PgToolError(f"no row from {sql}")
    return row[0]


def counts(conn: psycopg.Connection[TupleRow]) -> dict[str, int]:
    names = [str(r[0]) for r in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")]
    return {n: int(_value(conn, f'SELECT count(*) FROM "{n}"')) for n in names}


def dump(url: URL, target: Path) -> dict[str, int]:
    """`pg_dump -Fc` of the database and its rows per table, both from one snapshot."""
    pg_dump = tool("pg_dump")
    uri, env = _conninfo(url)
    with psycopg.connect(uri, password=url.password) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = _value(conn, "SELECT pg_export_snapshot()")
        rows = counts(conn)
        _run([pg_dump, "-Fc", f"--snapshot={snapshot}", "-f", str(target), f"--dbname={uri}"],
             env, "pg_dump")
        conn.rollback()
    return rows


def restore(url: URL, source: Path, *, clean: bool) -> dict[str, int]:
    """`pg_restore` in one transaction (all or nothing); `clean` drops what is there first."""
    pg_restore = tool("pg_restore")
    uri, env = _conninfo(url)
    args = [pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    if clean:
        args += ["--clean", "--if-exists"]
    _run([*args, f"--dbname={uri}", str(source)], env, "pg_restore")
    with psycopg.connect(uri, password=url.password) as conn:
        return counts(conn)
