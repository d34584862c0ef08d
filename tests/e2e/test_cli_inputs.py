"""Hostile arguments to the `aftersales` command get one line on stderr and a non-zero
exit, never a traceback or an "internal error", and nothing half-written. Each test here
failed before its fix (a sweep of every command, 2026-12-06); each docstring names the
exception and the line it escaped from then.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

CLI = Path(sys.executable).parent / "aftersales"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "platforms"

Result = subprocess.CompletedProcess[str]


def _env(db: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AFTERSALES_DEBUG"}
    if db is not None:
        env["AFTERSALES_DATABASE_URL"] = db
    return env


def run(*args: str, cwd: Path, db: str | None = None, timeout: float = 60,
        stdin: str | bytes | None = None) -> Result:
    binary = isinstance(stdin, bytes)
    done = subprocess.run([str(CLI), *args], cwd=cwd, env=_env(db), capture_output=True,
                          text=not binary, timeout=timeout, input=stdin)
    if binary:
        done = subprocess.CompletedProcess(done.args, done.returncode,
                                           done.stdout.decode(errors="replace"),
                                           done.stderr.decode(errors="replace"))
    return done


def one_line_error(result: Result) -> str:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-2000:]
    assert result.returncode != 0, result.stdout
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr[-2000:]
    assert "internal error" not in lines[0], lines[0]
    return lines[0]


def refused_promptly(*args: str, cwd: Path, db: str, wait: float = 8) -> Result:
    """A long-running command (worker, serve) given a bad option must exit at once, not run."""
    proc = subprocess.Popen([str(CLI), *args], cwd=cwd, env=_env(db), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=wait)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        pytest.fail(f"`aftersales {' '.join(args)}` accepted the bad option and kept running: "
                    f"{(out + err).strip()[-500:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture(scope="module")
def where(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("review")


@pytest.fixture(scope="module")
def db(where: Path) -> str:
    url = f"sqlite:///{where / 'review.db'}"
    assert run("migrate", cwd=where, db=url).returncode == 0
    return url


def make_shop(where: Path, db: str, platform: str) -> str:
    made = run("shop", "create", "--name", platform, "--platform", platform, cwd=where, db=db)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


# --- user create ---------------------------------------------------------------------------

def test_user_create_password_not_utf8_on_stdin(where: Path, db: str) -> None:
    """UnicodeEncodeError (surrogates) from argon2, via service/users.py:67
    `_HASHER.hash(password)`: exit 70 'internal error'."""
    shop = make_shop(where, db, "douyin")
    result = run("user", "create", "--shop", shop, "--username", "lin", "--role", "agent",
                 "--password-stdin", cwd=where, db=db, stdin=b"long-enough-\xff\xfe\n")
    one_line_error(result)


# --- shop policy ---------------------------------------------------------------------------

def test_shop_policy_file_not_utf8(where: Path, db: str) -> None:
    """UnicodeDecodeError from cli.py shop_policy `file.read_text(encoding="utf-8")`: exit 70."""
    shop = make_shop(where, db, "douyin")
    (where / "binary.json").write_bytes(b"\xff\xfe{\x00\x8b\x00}")
    line = one_line_error(run("shop", "policy", "--shop", shop, "--file", "binary.json",
                              cwd=where, db=db))
    assert "invalid_policy" in line


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,                       # RecursionError
    '{"no_reason_days": 1' + "0" * 5000 + "}",           # ValueError: > 4300 digits
], ids=["nested-100k-deep", "integer-5000-digits"])
def test_shop_policy_json_too_deep_or_number_too_long(where: Path, db: str, text: str) -> None:
    """RecursionError / ValueError from cli.py shop_policy `json.loads(...)` (only
    JSONDecodeError is caught there; the web console catches both): exit 70."""
    shop = make_shop(where, db, "douyin")
    (where / "hostile.json").write_text(text, encoding="utf-8")
    line = one_line_error(run("shop", "policy", "--shop", shop, "--file", "hostile.json",
                              cwd=where, db=db))
    assert "invalid_policy" in line


# --- tick / worker -------------------------------------------------------------------------

@pytest.mark.parametrize("now", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_tick_now_at_the_edge_of_the_calendar(where: Path, db: str, now: str) -> None:
    """OverflowError 'date value out of range' from domain/clock.py:14 require_aware
    `at.astimezone(UTC)`: exit 70."""
    line = one_line_error(run("tick", "--now", now, cwd=where, db=db))
    assert "invalid_time" in line


def test_tick_batch_beyond_64_bits(where: Path, db: str) -> None:
    """OverflowError 'Python int too large to convert to SQLite INTEGER' from
    adapters/db/claims.py:38 (the LIMIT); PostgreSQL answers 'bigint out of range': exit 70."""
    one_line_error(run("tick", "--batch", str(2**70), cwd=where, db=db))


@pytest.mark.parametrize("interval", ["-1", "nan"])
def test_worker_refuses_a_negative_or_nan_interval(where: Path, db: str, interval: str) -> None:
    """`worker --interval -1` (or nan) is accepted and spins at 100% CPU, one pass after
    another without sleeping, until killed (exit 0)."""
    one_line_error(refused_promptly("worker", "--interval", interval, cwd=where, db=db))


def test_worker_refuses_an_infinite_interval(where: Path, db: str) -> None:
    """OverflowError 'timestamp out of range for platform time_t' from stop.wait(inf) in
    entrypoints/worker.py:79 after the first pass: exit 70."""
    one_line_error(refused_promptly("worker", "--interval", "inf", cwd=where, db=db))


# --- serve ---------------------------------------------------------------------------------

def test_serve_refuses_a_port_beyond_65535(where: Path, db: str) -> None:
    """`serve --port 99999` says 'running on http://127.0.0.1:99999' and in fact listens on
    99999 % 65536 = 34463."""
    one_line_error(refused_promptly("serve", "--port", "99999", cwd=where, db=db))


def test_serve_host_name_too_long(where: Path, db: str) -> None:
    """UnicodeError 'label too long' (idna) inside uvicorn: uvicorn prints a full traceback,
    then main() reports 'internal error' with exit 70."""
    one_line_error(refused_promptly("serve", "--host", "a" * 100, "--port", "8799",
                                    cwd=where, db=db, wait=20))


# --- --database ----------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["postgresql://postgres@127.0.0.1:abc/x",
                                 "postgresql://postgres@[::1/x"])
def test_database_url_with_a_bad_port(where: Path, url: str) -> None:
    """ValueError 'invalid literal for int()' from sqlalchemy make_url, called at
    adapters/db/engine.py:36 which catches only ArgumentError: exit 70."""
    line = one_line_error(run("--database", url, "migrate", cwd=where))
    assert "invalid_database_url" in line


# --- import --------------------------------------------------------------------------------

def _douyin_lines() -> list[dict[str, object]]:
    text = (FIXTURES / "douyin" / "sync.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("stamp", [253402300800000, -62135596800001])
def test_import_timestamp_out_of_range_is_a_line_error(where: Path, db: str, stamp: int) -> None:
    """OverflowError from adapters/platforms/fields.py:182 `EPOCH + timedelta(seconds=value)`
    escapes the adapter (only PayloadError/DomainError become line errors), so the whole
    import aborts with exit 70: the bad line is not named and the good lines after it are
    never loaded (with --batch 1 the ones before it are already committed)."""
    shop = make_shop(where, db, "douyin")
    good = _douyin_lines()
    bad = json.loads(json.dumps(good[0]))
    bad["aftersale_info"]["update_time"] = stamp  # type: ignore[index]
    path = where / f"douyin-{stamp}.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in [bad, *good]) + "\n", encoding="utf-8")
    result = run("import", "douyin", str(path), "--shop", shop, "--json", cwd=where, db=db)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[0].startswith("line 1:"), result.stderr
    report = json.loads(result.stdout)
    assert report["failed"] == 1 and report["created"] + report["updated"] + report["unchanged"] == len(good)


def test_import_taobao_local_time_in_year_one_is_a_line_error(where: Path, db: str) -> None:
    """OverflowError from adapters/platforms/fields.py:195 local_time
    `moment.replace(tzinfo=zone).astimezone(UTC)` for "0001-01-01 00:00:00" (China time is
    before year 1 in UTC): the whole import aborts with exit 70."""
    shop = make_shop(where, db, "taobao")
    text = (FIXTURES / "taobao" / "sync.jsonl").read_text(encoding="utf-8")
    good = [json.loads(line) for line in text.splitlines() if line.strip()]
    bad = json.loads(json.dumps(good[0]))
    bad["refund_remind_timeout"]["timeout"] = "0001-01-01 00:00:00"
    path = where / "taobao-year-one.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in [bad, *good]) + "\n", encoding="utf-8")
    result = run("import", "taobao", str(path), "--shop", shop, "--json", cwd=where, db=db)
    assert "internal error" not in result.stderr, result.stderr
    assert result.returncode == 1 and result.stderr.startswith("line 1:"), result.stderr


# --- demo ----------------------------------------------------------------------------------

def test_demo_with_an_unwritable_tokens_file_writes_nothing(tmp_path: Path) -> None:
    """`demo --tokens-file DIR` fails with 'Is a directory' (exit 1) only after run_demo has
    committed 9 shops and their tokens: the tokens (kept only as hashes) and the desk
    password are never shown, and a rerun says the database already has shops."""
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    assert run("migrate", cwd=tmp_path, db=db).returncode == 0
    (tmp_path / "adir").mkdir()
    one_line_error(run("demo", "--tokens-file", "adir", cwd=tmp_path, db=db, timeout=120))
    with sqlite3.connect(tmp_path / "demo.db") as conn:
        shops = conn.execute("SELECT count(*) FROM shops").fetchone()[0]
    assert shops == 0, f"{shops} demo shops committed, their tokens lost"


# --- length limits -------------------------------------------------------------------------

def test_shop_name_longer_than_its_column_is_refused(where: Path, db: str) -> None:
    """shops.name is String(200): PostgreSQL refuses 201+ characters ('database error:
    StringDataRightTruncation'), SQLite stores 100 000 with exit 0; service/shops.py
    create_shop checks only that the name is not blank. (Same for token --buyer/--label
    and user --name.)"""
    one_line_error(run("shop", "create", "--name", "a" * 100_000, "--platform", "douyin",
                       cwd=where, db=db))
