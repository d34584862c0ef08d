"""`aftersales backup` and `aftersales restore`, a round trip on both databases.

Seeded with the demo (nine shops, their cases, events, ledger) and real evidence files;
backed up by the command, restored by the command into a fresh database and a fresh data
folder, then compared table by table and file by file. A damaged backup and a database
that is not empty are refused in one line, with nothing written.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, table

from aftersales.adapters.backup import backup, restore
from aftersales.adapters.db import tables as t
from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.db.migrate import upgrade
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.bootstrap import App, bootstrap
from aftersales.entrypoints.demo import run_demo
from aftersales.service import cases, evidence
from aftersales.service.ports import Principal
from conftest import DATABASES, Make, database
from media import JPEG, PDF, PNG, image

from .test_cli import CLI, Result, one_line_error


def cli(*args: str, db: str, data: Path, cwd: Path) -> Result:
    base = [str(CLI)] if CLI.exists() else ["python", "-m", "aftersales.entrypoints.cli"]
    env = {k: v for k, v in os.environ.items() if k != "AFTERSALES_DEBUG"}
    env.update(AFTERSALES_DATABASE_URL=db, AFTERSALES_DATA_DIR=str(data))
    return subprocess.run([*base, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def rows(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            names = inspect(conn).get_table_names()
            return {n: conn.execute(select(func.count()).select_from(table(n))).scalar_one()
                    for n in sorted(names)}
    finally:
        engine.dispose()


def hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _seed(app: App) -> None:
    """The demo, and four evidence files on three of its cases."""
    run_demo(app.deps)
    with app.engine.connect() as conn:
        picked = conn.execute(select(t.cases.c.shop_id, t.cases.c.id).order_by(t.cases.c.id)
                              .limit(3)).all()
    files = (PNG, JPEG, PDF, image("PNG", (32, 32), color=(1, 2, 3)))
    for n, data in enumerate(files):
        shop_id, case_id = picked[n % len(picked)]
        evidence.add_evidence(app.deps, Principal(shop_id, Role.admin, None, "admin"), case_id,
                              data, f"e{n}")


def _served(url: str, data: Path) -> None:
    """The restored desk serves a restored file, byte for byte."""
    app = bootstrap(url, evidence_dir=data / "evidence")
    try:
        with app.engine.connect() as conn:
            e = t.evidence.c
            shop_id, case_id, evidence_id, digest = conn.execute(
                select(e.shop_id, e.case_id, e.id, e.sha256).limit(1)).one()
        got = evidence.open_evidence(app.deps, Principal(shop_id, Role.admin, None, "admin"),
                                     case_id, evidence_id)
        assert hashlib.sha256(got.data).hexdigest() == digest
    finally:
        app.engine.dispose()


@pytest.fixture(scope="module", params=DATABASES)
def seeded(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """One seeded source per database kind (the tests only read it)."""
    root = tmp_path_factory.mktemp("backup-source")
    with database(request.param, root) as url:
        data = root / "data"
        app = bootstrap(url, evidence_dir=data / "evidence")
        upgrade(app.engine)
        _seed(app)
        app.engine.dispose()
        yield str(request.param), url, data


@pytest.fixture
def kind(seeded: tuple[str, str, Path]) -> str:
    return seeded[0]


@pytest.fixture
def source(seeded: tuple[str, str, Path]) -> tuple[str, Path]:
    return seeded[1], seeded[2]


def test_round_trip_keeps_every_row_and_file(kind: str, source, tmp_path: Path) -> None:
    url, data = source
    backed = cli("backup", "--to", str(tmp_path / "bk"), db=url, data=data, cwd=tmp_path)
    assert backed.returncode == 0, backed.stderr
    assert "evidence files" in backed.stdout
    before_rows, before_files = rows(url), hashes(data / "evidence")
    assert before_rows["cases"] > 20 and before_rows["evidence"] == 4 and len(before_files) == 4
    with database(kind, tmp_path / "new-db-dir") as fresh:
        new_data = tmp_path / "new-data"
        done = cli("restore", "--from", str(tmp_path / "bk"), db=fresh, data=new_data, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert rows(fresh) == before_rows
        assert hashes(new_data / "evidence") == before_files
        again = cli("restore", "--from", str(tmp_path / "bk"), db=fresh, data=new_data, cwd=tmp_path)
        assert "already has" in one_line_error(again) and again.returncode == 1
        forced = cli("restore", "--from", str(tmp_path / "bk"), "--force", db=fresh, data=new_data,
                     cwd=tmp_path)
        assert forced.returncode == 0, forced.stderr
        assert rows(fresh) == before_rows
        _served(fresh, new_data)


def test_a_damaged_backup_is_refused_before_anything_is_written(kind: str, source,
                                                                tmp_path: Path) -> None:
    url, data = source
    assert cli("backup", "--to", str(tmp_path / "bk"), db=url, data=data, cwd=tmp_path).returncode == 0
    victim = next(p for p in sorted((tmp_path / "bk" / "evidence").rglob("*")) if p.is_file())
    victim.write_bytes(victim.read_bytes()[:-1] + b"!")
    with database(kind, tmp_path / "new-db-dir") as fresh:
        res = cli("restore", "--from", str(tmp_path / "bk"), db=fresh, data=tmp_path / "nd",
                  cwd=tmp_path)
        assert "does not match its SHA-256" in one_line_error(res)
        assert rows(fresh) == {} and not (tmp_path / "nd" / "evidence").exists()


def test_backup_refuses_a_folder_in_use_and_restore_a_folder_without_a_manifest(
        kind: str, source, tmp_path: Path) -> None:
    url, data = source
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    res = cli("backup", "--to", str(tmp_path / "used"), db=url, data=data, cwd=tmp_path)
    assert "not an empty folder" in one_line_error(res)
    res = cli("restore", "--from", str(tmp_path / "used"), db=url, data=data, cwd=tmp_path)
    assert "not an aftersales backup" in one_line_error(res)


def test_a_backup_taken_while_the_desk_writes_is_consistent(kind: str, tmp_path: Path) -> None:
    """Messages and evidence keep landing while the backup runs; the copy restores with the
    rows its manifest counted, and every evidence row it holds has its file."""
    with database(kind, tmp_path / "live") as url:
        app = bootstrap(url, evidence_dir=tmp_path / "live-data" / "evidence")
        upgrade(app.engine)
        make = Make(app)
        loaded = make.case(make.shop("taobao", sandbox=True))
        agent = Principal(loaded.shop.shop.id, Role.agent, None, "agent1")
        stop = threading.Event()

        def write() -> int:
            n = 0
            while not stop.is_set() and n < 400:
                cases.add_message(app.deps, agent, loaded.case.id, f"note {n}")
                if n % 10 == 0:
                    evidence.add_evidence(app.deps, agent, loaded.case.id,
                                          image("PNG", (8, 8), color=(n % 256, 0, 0)), None)
                n += 1
            return n

        with ThreadPoolExecutor(1) as pool:
            writer = pool.submit(write)
            time.sleep(0.2)
            manifest = backup(app.engine, tmp_path / "live-data" / "evidence", tmp_path / "bk",
                              "0005")
            stop.set()
            assert writer.result() > 0
        app.engine.dispose()
    with database(kind, tmp_path / "copy") as fresh:
        target = make_engine(fresh)
        try:
            restored = restore(target, tmp_path / "copy-data" / "evidence", tmp_path / "bk")
        finally:
            target.dispose()
        assert restored["rows"] == manifest["rows"] == rows(fresh)
        assert manifest["rows"]["messages"] > 0
        with make_engine(fresh).connect() as conn:
            digests = {r[0] for r in conn.execute(select(t.evidence.c.sha256))}
        assert digests and digests <= {rel.split("/")[1] for rel in manifest["evidence"]}
