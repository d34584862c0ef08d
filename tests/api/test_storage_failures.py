"""Storage failures answer a clear 503 with a code, leave nothing half-written, and show
in readiness (issue 19): an evidence directory that cannot be written, a missing file, a
full disk, a database connection the server dropped, a database that does not answer."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from aftersales.adapters.db.migrate import upgrade
from aftersales.entrypoints.api.app import create_app
from aftersales.entrypoints.bootstrap import bootstrap
from servers import free_port

from .helpers import Desk, assert_error
from .test_idempotency import PNG


@contextmanager
def desk_on(url: str, evidence: Path, *, migrate: bool = True) -> Iterator[Desk]:
    app = bootstrap(url, evidence_dir=evidence)
    if migrate:
        upgrade(app.engine)
    try:
        with TestClient(create_app(app), raise_server_exceptions=False) as client:
            yield Desk(client, app)
    finally:
        app.engine.dispose()


def upload(desk: Desk, shop: object, case_id: str) -> object:
    return desk.client.post(f"/api/v1/cases/{case_id}/evidence",
                            files={"file": ("p.png", PNG, "image/png")},
                            headers=shop.auth("buyer"))  # type: ignore[attr-defined]


def test_an_unwritable_evidence_directory_answers_503_and_readiness_says_so(
        tmp_path: Path) -> None:
    """Tests run as root, so chmod cannot make a directory unwritable: the evidence
    directory's parent is a regular file instead (mkdir fails as on a read-only mount)."""
    (tmp_path / "not-a-dir").write_text("x")
    with desk_on(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "not-a-dir" / "evidence") as desk:
        shop = desk.shop()
        case = desk.open_case(shop, desk.order(shop))
        before = desk.case(shop, case["id"])["events"]
        error = assert_error(upload(desk, shop, case["id"]), 503, "storage_unavailable")
        assert "evidence storage cannot be written" in error["message"]
        assert desk.case(shop, case["id"])["events"] == before  # nothing recorded
        ready = desk.client.get("/api/v1/health/ready")
        assert_error(ready, 503, "not_ready")
        assert [r["code"] for r in ready.json()["error"]["reasons"]] == ["storage_unavailable"]
        assert desk.client.get("/api/v1/health/live").status_code == 200
        assert desk.client.get("/api/v1/health").status_code == 200  # as it always answered


def test_a_missing_evidence_file_is_404_and_missing_storage_503(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    with desk_on(f"sqlite:///{tmp_path / 'a.db'}", evidence) as desk:
        shop = desk.shop()
        case = desk.open_case(shop, desk.order(shop))
        meta = upload(desk, shop, case["id"]).json()  # type: ignore[attr-defined]
        url = f"/api/v1/cases/{case['id']}/evidence/{meta['id']}"
        assert desk.client.get("/api/v1/health/ready").json() == {"status": "ok"}
        [stored] = [p for p in evidence.rglob("*") if p.is_file() and len(p.name) == 64]
        stored.unlink()
        assert_error(desk.client.get(url, headers=shop.auth("agent")), 404,
                     "evidence_file_missing")
        shutil.rmtree(evidence)  # the whole storage gone (an unmounted volume)
        evidence.write_text("a file where the directory was")
        assert_error(desk.client.get(url, headers=shop.auth("agent")), 503, "storage_unavailable")


FULL_DISK = textwrap.dedent("""
    import resource, signal, sys
    from aftersales.adapters.blobs import FileBlobStore
    from aftersales.service.errors import StorageUnavailable
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    store = FileBlobStore(sys.argv[1])
    store.put(b"small")
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
    try:
        store.put(b"x" * 100_000)
    except StorageUnavailable as exc:
        print("refused:", exc.code)
""")


def test_a_full_disk_leaves_no_partial_file(tmp_path: Path) -> None:
    """A file size limit (RLIMIT_FSIZE) makes the kernel refuse the write part-way, as a
    full disk does; run in a child process so the limit touches nothing else."""
    root = tmp_path / "evidence"
    done = subprocess.run([sys.executable, "-c", FULL_DISK, str(root)], capture_output=True,
                          text=True, timeout=60)
    assert done.stdout.strip() == "refused: storage_unavailable", done.stderr
    files = sorted(p.name for p in root.rglob("*") if p.is_file())
    assert len(files) == 1 and len(files[0]) == 64, files  # the small file only, no temp


def test_a_dropped_database_connection_is_not_reused(pg_url: str, tmp_path: Path) -> None:
    """The server ends every session (a restart, a failover): the next request gets a
    fresh connection instead of the dead pooled one."""
    with desk_on(pg_url, tmp_path / "evidence") as desk:
        shop = desk.shop()
        for _ in range(3):
            assert desk.client.get("/api/v1/cases", headers=shop.auth("agent")).status_code == 200
            name = make_url(pg_url).database
            with psycopg.connect(make_url(pg_url).set(drivername="postgresql").render_as_string(
                    hide_password=False), autocommit=True) as admin:
                killed = admin.execute(
                    "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()) t", (name,)).fetchone()
            assert killed is not None and killed[0] >= 1
            res = desk.client.get("/api/v1/cases", headers=shop.auth("agent"))
            assert res.status_code == 200, res.text


def test_an_unreachable_database_answers_503_and_not_ready(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing?connect_timeout=2"
    with desk_on(url, tmp_path / "evidence", migrate=False) as desk:
        ready = desk.client.get("/api/v1/health/ready")
        assert_error(ready, 503, "not_ready")
        assert [r["code"] for r in ready.json()["error"]["reasons"]] == ["database_unavailable"]
        assert desk.client.get("/api/v1/health/live").status_code == 200
        assert_error(desk.client.get("/api/v1/health"), 503, "database_unavailable")
        res = desk.client.get("/api/v1/cases", headers={"Authorization": "Bearer as_x"})
        assert_error(res, 503, "database_unavailable")
        assert res.headers["retry-after"]
