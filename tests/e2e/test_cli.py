"""The real `aftersales` command, as a user runs it: exit codes, stdout, one-line errors.

Why subprocesses: the promise is about the installed command — entry point, option
parsing, the error boundary in `main()`, what lands on stdout vs stderr — none of which
an in-process call of the functions would check.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aftersales.adapters.clock import FixedClock
from aftersales.entrypoints.bootstrap import bootstrap
from conftest import DATABASES, T0, database, migrated_engine
from integration.payloads import kuaishou_stream
from integration.seeding import seed

CLI = Path(sys.executable).parent / "aftersales"


Result = subprocess.CompletedProcess[str]


def run(*args: str, cwd: Path, db: str | None = None, timeout: float = 60,
        stdin: str | None = None) -> Result:
    base = [str(CLI)] if CLI.exists() else [sys.executable, "-m", "aftersales.entrypoints.cli"]
    env = {k: v for k, v in os.environ.items() if k != "AFTERSALES_DEBUG"}
    if db is not None:
        env["AFTERSALES_DATABASE_URL"] = db
    return subprocess.run([*base, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, input=stdin)


def one_line_error(result: Result) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope="module", params=DATABASES)
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with database(request.param, tmp_path_factory.mktemp("cli")) as url:
        yield url


def test_migrate_shop_token_tick_import(db: str, tmp_path: Path) -> None:
    migrated = run("migrate", cwd=tmp_path, db=db)
    assert migrated.returncode == 0 and "revision" in migrated.stdout, migrated.stderr
    assert run("migrate", cwd=tmp_path, db=db).returncode == 0  # again: nothing to do
    shop = run("shop", "create", "--name", "潮鞋小铺", "--platform", "kuaishou", cwd=tmp_path, db=db)
    assert shop.returncode == 0, shop.stderr
    shop_id = shop.stdout.strip()
    assert len(shop_id) == 36 and "\n" not in shop_id
    token = run("token", "create", "--shop", shop_id, "--role", "buyer", "--buyer", "b-1",
                cwd=tmp_path, db=db)
    assert token.returncode == 0 and token.stdout.strip().startswith("as_"), token.stderr
    payloads = tmp_path / "kuaishou.jsonl"
    payloads.write_text("\n".join(kuaishou_stream(40)) + "\n", encoding="utf-8")
    imported = run("import", "kuaishou", str(payloads), "--shop", shop_id, "--json", cwd=tmp_path, db=db)
    assert imported.returncode == 0, imported.stderr
    report = json.loads(imported.stdout)
    assert report["failed"] == 0 and report["created"] + report["updated"] + report["unchanged"] == 40
    # The same stream continued, in two processes: nothing seen twice, the rest applied.
    payloads.write_text("\n".join(kuaishou_stream(80)) + "\n", encoding="utf-8")
    shared = run("import", "kuaishou", str(payloads), "--shop", shop_id, "--json", "--jobs", "2",
                 cwd=tmp_path, db=db)
    assert shared.returncode == 0, shared.stderr
    report = json.loads(shared.stdout)
    assert report["failed"] == 0 and report["unchanged"] == 40 and report["created"] > 0
    assert "--jobs" in one_line_error(run("import", "kuaishou", str(payloads), "--shop", shop_id,
                                          "--jobs", "0", cwd=tmp_path, db=db))
    ticked = run("tick", "--json", cwd=tmp_path, db=db)
    assert ticked.returncode == 0, ticked.stderr
    fired = json.loads(ticked.stdout)["fired"]
    assert all(f["shop_id"] == shop_id for f in fired)
    again = run("tick", cwd=tmp_path, db=db)
    assert again.returncode == 0 and "0 fired" in again.stdout


WAITING = Path(__file__).parent.parent / "fixtures/platforms/taobao/return_refund_wait_seller_agree.json"


def import_waiting_case(db: str, tmp_path: Path, *sandbox: str) -> str:
    """A shop holding one case that waits for the seller: one pending deadline."""
    assert run("migrate", cwd=tmp_path, db=db).returncode == 0
    shop_id = run("shop", "create", "--name", "店", "--platform", "taobao", *sandbox,
                  cwd=tmp_path, db=db).stdout.strip()
    payloads = tmp_path / "waiting.jsonl"
    payloads.write_text(json.dumps(json.loads(WAITING.read_text("utf-8"))) + "\n", encoding="utf-8")
    assert run("import", "taobao", str(payloads), "--shop", shop_id, cwd=tmp_path,
               db=db).returncode == 0
    return shop_id


def due_at(db: str, shop_id: str, to: datetime | None = None) -> list[datetime]:
    """The shop's pending deadlines (moved to `to` first when given: time passing)."""
    from sqlalchemy import select, update

    from aftersales.adapters.db import tables

    d = tables.deadlines.c
    mine = (d.shop_id == shop_id, d.status == "pending")
    with migrated_engine(db) as engine, engine.begin() as conn:
        if to is not None:
            conn.execute(update(tables.deadlines).where(*mine).values(due_at=to))
        return list(conn.execute(select(d.due_at).where(*mine)).scalars())


def event_times(db: str, shop_id: str) -> list[datetime]:
    from sqlalchemy import select

    from aftersales.adapters.db import tables

    e = tables.case_events.c
    with migrated_engine(db) as engine, engine.connect() as conn:
        return list(conn.execute(select(e.at).where(e.shop_id == shop_id)).scalars())


def test_tick_ahead_of_the_real_time_is_refused(db: str, tmp_path: Path) -> None:
    """`tick --now 9999-12-31` fired every live shop's deadlines with events dated 9999."""
    shop_id = import_waiting_case(db, tmp_path)
    assert len(due_at(db, shop_id, datetime.now(UTC) + timedelta(days=2))) == 1
    before = event_times(db, shop_id)
    for ahead in ("9999-12-31T00:00:00+00:00",
                  (datetime.now(UTC) + timedelta(minutes=10)).isoformat()):
        refused = run("tick", "--now", ahead, "--json", cwd=tmp_path, db=db)
        assert "clock_ahead" in one_line_error(refused)
    assert event_times(db, shop_id) == before and len(due_at(db, shop_id)) == 1
    # a clock a few seconds ahead of ours is tolerated, a time in the past is fine
    for near in ((datetime.now(UTC) + timedelta(seconds=5)).isoformat(), T0.isoformat()):
        ticked = run("tick", "--now", near, "--json", cwd=tmp_path, db=db)
        assert ticked.returncode == 0 and json.loads(ticked.stdout)["fired"] == [], ticked.stderr
    due_at(db, shop_id, datetime.now(UTC) - timedelta(minutes=1))  # now really due
    ticked = run("tick", "--json", cwd=tmp_path, db=db)
    assert [f["shop_id"] for f in json.loads(ticked.stdout)["fired"]] == [shop_id]
    assert max(event_times(db, shop_id)) < datetime.now(UTC)


def test_tick_leaves_sandbox_shops_to_their_own_clock(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'sandbox.db'}"
    shop_id = import_waiting_case(db, tmp_path, "--sandbox")
    due_at(db, shop_id, datetime.now(UTC) - timedelta(days=1))  # due by the real clock only
    ticked = run("tick", "--json", cwd=tmp_path, db=db)
    assert json.loads(ticked.stdout)["fired"] == [] and len(due_at(db, shop_id)) == 1


def test_demo_fills_an_empty_database_once(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    run("migrate", cwd=tmp_path, db=db)
    demo = run("demo", cwd=tmp_path, db=db)
    assert demo.returncode == 0, demo.stderr
    tokens_file = tmp_path / "var" / "demo-tokens.json"
    assert tokens_file.stat().st_mode & 0o777 == 0o600, oct(tokens_file.stat().st_mode)
    tokens = json.loads(tokens_file.read_text("utf-8"))
    assert len(tokens["shops"]) == 9
    assert {"admin", "agent", "warehouse", "finance"} <= set(tokens["shops"][0]["tokens"])
    assert all(s["tokens"]["admin"] in demo.stdout for s in tokens["shops"])
    skipped = run("demo", "--if-empty", cwd=tmp_path, db=db)
    assert skipped.returncode == 0 and "nothing to do" in skipped.stdout
    refused = one_line_error(run("demo", cwd=tmp_path, db=db))
    assert "not_empty" in refused
    with migrated_engine(db) as engine, engine.connect() as conn:
        states = set(conn.exec_driver_sql("SELECT DISTINCT state FROM cases").scalars())
        overdue = conn.exec_driver_sql("SELECT count(*) FROM cases WHERE overdue").scalar_one()
        system = conn.exec_driver_sql("SELECT count(*) FROM case_events WHERE actor = 'system'").scalar_one()
    assert len(states) == 10 and overdue >= 1 and system > 0


@pytest.fixture(scope="module")
def sqlite_shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    where = tmp_path_factory.mktemp("bad")
    db = f"sqlite:///{where / 'bad.db'}"
    run("migrate", cwd=where, db=db)
    shop_id = run("shop", "create", "--name", "x", "--platform", "douyin", cwd=where, db=db).stdout.strip()
    (where / "notjson.txt").write_text("auto_approve: yes\n", encoding="utf-8")
    (where / "float.json").write_text('{"auto_approve": [{"max_amount": 29.99}]}', encoding="utf-8")
    return where, db, shop_id


def test_user_create_makes_a_desk_account(sqlite_shop: tuple[Path, str, str]) -> None:
    """A merchant creates staff accounts for the desk; bad ones are refused in one line."""
    where, db, shop_id = sqlite_shop
    made = run("user", "create", "--shop", shop_id, "--username", "lin", "--role", "agent",
               "--password-stdin", cwd=where, db=db, stdin="long-enough-1\n")
    assert made.returncode == 0 and len(made.stdout.strip()) == 36, made.stderr
    for args, stdin, code in (
        (["--username", "lin", "--role", "agent"], "long-enough-1\n", "username_taken"),
        (["--username", "wu", "--role", "agent"], "short\n", "weak_password"),
        (["--username", "wu", "--role", "buyer"], "long-enough-1\n", "invalid_role"),
    ):
        line = one_line_error(run("user", "create", "--shop", shop_id, *args, "--password-stdin",
                                  cwd=where, db=db, stdin=stdin))
        assert code in line


def test_shop_policy_is_set_from_a_file_and_printed(sqlite_shop: tuple[Path, str, str]) -> None:
    """The merchant's policy is data per shop: `aftersales shop policy` stores and shows it."""
    where, db, shop_id = sqlite_shop
    (where / "policy.json").write_text(
        json.dumps({"auto_approve": [{"max_amount": 3000}], "extra": {"alert_email": "a@b.cn"}}),
        encoding="utf-8")
    stored = run("shop", "policy", "--shop", shop_id, "--file", "policy.json", cwd=where, db=db)
    assert stored.returncode == 0, stored.stderr
    shown = json.loads(run("shop", "policy", "--shop", shop_id, cwd=where, db=db).stdout)
    assert shown["auto_approve"][0]["max_amount"] == 3000
    assert shown["extra"] == {"alert_email": "a@b.cn"}


BAD_INPUT = {
    "unknown platform": (["shop", "create", "--name", "x", "--platform", "ebay"], "unknown_platform"),
    "unknown timezone": (["shop", "create", "--name", "x", "--platform", "douyin", "--timezone", "Mars/X"],
                         "invalid_timezone"),
    "malformed time": (["tick", "--now", "yesterday"], "invalid_time"),
    "time without offset": (["tick", "--now", "2026-03-02T10:00:00"], "naive_datetime"),
    "unknown role": (["token", "create", "--shop", "{shop}", "--role", "boss"], "invalid_role"),
    "buyer without id": (["token", "create", "--shop", "{shop}", "--role", "buyer"], "invalid_buyer"),
    "unknown shop": (["token", "create", "--shop", "nope", "--role", "admin"], "shop_not_found"),
    "missing file": (["import", "douyin", "/no/such/file.jsonl", "--shop", "{shop}"], "file not found"),
    "import unknown platform": (["import", "ebay", "x.jsonl", "--shop", "{shop}"], "unknown_platform"),
    "import wrong platform": (["import", "kuaishou", "x.jsonl", "--shop", "{shop}"], "platform_mismatch"),
    "missing option": (["shop", "create", "--name", "x"], "--platform"),
    "unknown option": (["tick", "--later"], "--later"),
    "unreachable database": (["--database", "postgresql+psycopg://postgres@127.0.0.1:9/x", "migrate"],
                             "database error"),
    "not a database url": (["--database", "mysql://x", "migrate"], "invalid_database_url"),
    "policy not json": (["shop", "policy", "--shop", "{shop}", "--file", "notjson.txt"],
                        "invalid_policy"),
    "policy float amount": (["shop", "policy", "--shop", "{shop}", "--file", "float.json"],
                            "invalid_policy"),
    "policy unknown shop": (["shop", "policy", "--shop", "nope"], "shop_not_found"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_is_one_line_on_stderr_and_a_non_zero_exit(case: str,
                                                             sqlite_shop: tuple[Path, str, str]) -> None:
    where, db, shop_id = sqlite_shop
    args, expected = BAD_INPUT[case]
    line = one_line_error(run(*(a.replace("{shop}", shop_id) for a in args), cwd=where, db=db))
    assert expected in line


def test_unmigrated_database_says_so(tmp_path: Path) -> None:
    line = one_line_error(run("tick", cwd=tmp_path, db=f"sqlite:///{tmp_path / 'empty.db'}"))
    assert "aftersales migrate" in line


def test_bad_lines_are_reported_by_number_and_the_rest_load(sqlite_shop: tuple[Path, str, str]) -> None:
    where, db, _ = sqlite_shop
    shop_id = run("shop", "create", "--name", "k", "--platform", "kuaishou", cwd=where, db=db).stdout.strip()
    lines = kuaishou_stream(6, start=500)
    lines[2:2] = ["{not json", '{"refundId": "x"}']
    path = where / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run("import", "kuaishou", str(path), "--shop", shop_id, cwd=where, db=db)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = result.stderr.strip().splitlines()
    assert [e.split(":")[0] for e in errors] == ["line 3", "line 4"]
    assert "2 created, 4 updated" in result.stdout and "2 failed" in result.stdout


def test_worker_fires_due_deadlines_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'worker.db'}"
    with migrated_engine(db) as engine:
        seed(bootstrap(engine=engine, clock=FixedClock(datetime.now(UTC))), due=5, base=datetime.now(UTC))
    base = [str(CLI)] if CLI.exists() else [sys.executable, "-m", "aftersales.entrypoints.cli"]
    proc = subprocess.Popen([*base, "--database", db, "worker", "--interval", "0.2"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with migrated_engine(db) as engine:
            deadline = time.monotonic() + 30
            fired = 0
            while fired < 5 and time.monotonic() < deadline:
                time.sleep(0.2)
                with engine.connect() as conn:
                    fired = conn.exec_driver_sql(
                        "SELECT count(*) FROM deadlines WHERE status = 'fired'").scalar_one()
        assert fired == 5
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err
    assert "stopped after" in err and "5 deadlines fired" in err


def test_tokens_are_listed_without_secrets_and_revoked_by_id_or_value(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'tokens.db'}"
    run("migrate", cwd=tmp_path, db=db)
    shop = run("shop", "create", "--name", "S", "--platform", "taobao", cwd=tmp_path, db=db).stdout.strip()
    made = run("token", "create", "--shop", shop, "--role", "agent", "--label", "ops",
               "--expires-in", "30d", cwd=tmp_path, db=db)
    assert made.returncode == 0, made.stderr
    first = made.stdout.strip()
    second = run("token", "create", "--shop", shop, "--role", "finance", cwd=tmp_path, db=db).stdout.strip()
    listed = run("token", "list", "--shop", shop, "--json", cwd=tmp_path, db=db)
    tokens = {t["label"] or t["role"]: t for t in json.loads(listed.stdout)}
    assert set(tokens) == {"ops", "finance"}
    expires = datetime.fromisoformat(tokens["ops"]["expires_at"])
    assert abs(expires - datetime.now(UTC) - timedelta(days=30)) < timedelta(minutes=5)
    assert tokens["finance"]["expires_at"] is None and tokens["ops"]["revoked_at"] is None
    plain = run("token", "list", "--shop", shop, cwd=tmp_path, db=db).stdout
    assert tokens["ops"]["id"] in plain
    for text in (listed.stdout, plain):
        assert first not in text and second not in text and first[3:15] not in text
    assert run("token", "revoke", tokens["ops"]["id"], cwd=tmp_path, db=db).returncode == 0
    assert run("token", "revoke", second, cwd=tmp_path, db=db).returncode == 0
    after = json.loads(run("token", "list", "--shop", shop, "--json", cwd=tmp_path, db=db).stdout)
    assert all(t["revoked_at"] for t in after)
    assert "token_not_found" in one_line_error(run("token", "revoke", "nope", cwd=tmp_path, db=db))
    for bad in ("0d", "abc", "99999999d"):
        assert "invalid_duration" in one_line_error(run(
            "token", "create", "--shop", shop, "--role", "agent", "--expires-in", bad,
            cwd=tmp_path, db=db))
