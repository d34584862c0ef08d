"""The `aftersales` command (API.md "Command line"): serve, worker, tick, migrate, demo,
shop create, token create/list/revoke, import.

Every command builds the same service commands the API does (one write path). Errors are
turned into a one-line message and a non-zero exit in one place, `main()`: bad input is
the user's to fix, and a traceback would hide the one line that says how. Set
AFTERSALES_DEBUG=1 to see the traceback of an unexpected error.
"""

from __future__ import annotations

import inspect
import json
import os
import socket
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.exc import DBAPIError
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer vendors click

from aftersales.adapters.clock import FixedClock, SystemClock
from aftersales.adapters.db.engine import DatabaseUrlError
from aftersales.adapters.platforms import PayloadError
from aftersales.domain.clock import parse_duration, require_aware
from aftersales.domain.errors import DomainError, InvalidInput
from aftersales.entrypoints import cli_backup, cli_platforms
from aftersales.entrypoints.bootstrap import App, bootstrap
from aftersales.entrypoints.worker import install_signal_handlers, one_line, run_worker
from aftersales.service import shops, timers

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  pretty_exceptions_enable=False, help="After-sales desk for online merchants.")
shop_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Manage shops.")
token_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Manage API tokens.")
app.add_typer(shop_app, name="shop")
user_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                       help="Manage staff accounts for the desk.")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class CliError(Exception):
    """A usage problem the command itself detects (not the domain's, not the parser's)."""


@app.callback()
def _root(ctx: typer.Context,
          database: str | None = typer.Option(None, "--database", envvar="AFTERSALES_DATABASE_URL",
                                              help="Database URL (default: sqlite:///var/aftersales.db)")
          ) -> None:
    ctx.obj = {"database": database}


def _app(ctx: typer.Context, clock: Any = None) -> App:
    """Bootstrap lazily: `--help` and argument errors never touch the database."""
    return bootstrap((ctx.obj or {}).get("database"), clock=clock)


# How far ahead of this machine's clock `tick --now` may be (clocks a little apart).
TICK_TOLERANCE = timedelta(seconds=60)


def parse_time(text: str, name: str = "--now") -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{name}: not an ISO 8601 time: {text!r} (e.g. 2026-03-02T10:00:00+08:00)",
                           code="invalid_time") from None
    return require_aware(value, name)


@app.command()
def serve(ctx: typer.Context, host: str = typer.Option("127.0.0.1", help="Interface to bind"),
          port: int = typer.Option(8000, min=1, max=65535, help="Port"),
          workers: int = typer.Option(1, min=1, max=64,
                                      help="Server processes (one per core serves most)"),
          timeout_keep_alive: float = typer.Option(
              5.0, min=0.1, max=3600, help="Seconds an idle connection is kept between requests"),
          limit_concurrency: int = typer.Option(
              1000, min=1, help="Connections and requests at once per process; beyond, 503"),
          max_header_bytes: int = typer.Option(
              16 * 1024, min=1024, help="Largest incomplete request head (h11 only; httptools "
              "has its own 80 KiB limit)"),
          graceful_shutdown: float = typer.Option(
              30.0, min=0, help="Seconds requests in progress get to finish on SIGTERM")) -> None:
    """HTTP API and web console; with --workers N, N processes share the port.

    uvicorn's own limits: idle keep-alive connections time out and --limit-concurrency
    caps what one process holds. Slow or half-open clients are cut off by the nginx front
    of deploy/, which production runs behind (docs/decisions.md "Client timeouts")."""
    try:
        from aftersales.entrypoints.api.app import create_app
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("aftersales"):
            raise CliError("the HTTP API is not installed in this build "
                           f"({exc.name} is missing)") from None
        raise
    import uvicorn

    from aftersales.entrypoints.api.serving import uvicorn_options
    from aftersales.entrypoints.api.settings import ApiSettings

    try:
        options = uvicorn_options(ApiSettings.from_env())
    except ValueError as exc:
        raise InvalidInput(str(exc), code="invalid_setting") from None
    try:  # a host name uvicorn could not bind fails here in one line, not in its traceback
        socket.getaddrinfo(host, port)
    except (OSError, UnicodeError) as exc:
        raise InvalidInput(f"cannot listen on {host[:80]!r}: {exc}", code="invalid_host") from None
    database = (ctx.obj or {}).get("database")
    if database:
        os.environ["AFTERSALES_DATABASE_URL"] = database
    limits: dict[str, Any] = {
        "timeout_keep_alive": timeout_keep_alive,
        "limit_concurrency": limit_concurrency, "h11_max_incomplete_event_size": max_header_bytes,
        "timeout_graceful_shutdown": graceful_shutdown}
    if workers > 1:  # uvicorn's own workers: each process builds the app itself, on the
        # database named above; the desk's sessions are in the database, so any process
        # serves any signed-in person (deploy/README.md: the production shape)
        uvicorn.run("aftersales.entrypoints.api.app:create_app", factory=True, host=host,
                    port=port, workers=workers, **limits, **options)
        return
    params = inspect.signature(create_app).parameters
    web = create_app(database_url=database) if "database_url" in params else create_app()
    uvicorn.run(web, host=host, port=port, **limits, **options)


@app.command()
def worker(ctx: typer.Context,
           interval: float = typer.Option(1.0, min=0.01, max=86400,
                                          help="Seconds between passes"),
           batch: int = typer.Option(200, min=1, max=100_000,
                                     help="Deadlines claimed per transaction")) -> None:
    """Fire due deadlines continuously (and send queued notifications) until SIGTERM/SIGINT."""
    application = _app(ctx)
    with application.deps.uow() as uow:  # fail fast, in one line, if the database is unreachable
        uow.shops.list_shops()
    stop = threading.Event()
    install_signal_handlers(stop)
    if interval != interval:  # NaN passes any range check
        raise InvalidInput("--interval is a number of seconds", code="invalid_interval")
    err.print(f"worker: started (pid {os.getpid()}), every {interval:g}s; Ctrl-C to stop")
    stats = run_worker(application.deps, stop, interval=interval, batch=batch,
                       log=lambda line: err.print(line, markup=False))
    err.print(f"worker: stopped after {stats.passes} passes, {stats.fired} deadlines fired")


@app.command()
def tick(ctx: typer.Context,
         now: str | None = typer.Option(None, "--now", help="ISO 8601 time (default: now)"),
         batch: int = typer.Option(200, min=1, max=100_000, help="Deadlines claimed per transaction"),
         as_json: bool = typer.Option(False, "--json", help="Print JSON")) -> None:
    """Fire everything due at --now once (live shops), print what fired, exit.

    Live shops follow the real clock: a --now later than the real time (beyond
    TICK_TOLERANCE, for clocks a little apart) would fire their deadlines early with
    events dated in the future, so it is refused. Sandbox shops are left out, as by the
    worker: their clocks move with POST /api/v1/clock/advance."""
    at = parse_time(now) if now is not None else None
    real = SystemClock().now()
    if at is not None and at > real + TICK_TOLERANCE:
        raise InvalidInput(f"--now {at.isoformat()} is ahead of the real time "
                           f"{real.isoformat(timespec='seconds')}: live shops follow the real "
                           "clock (a sandbox shop's clock moves with POST /api/v1/clock/advance)",
                           code="clock_ahead")
    application = _app(ctx, clock=FixedClock(at) if at else None)
    moment = application.deps.clock.now()
    fired = timers.sweep(application.deps, moment, batch=batch, live_only=True)
    if as_json:
        out.print_json(json.dumps({"now": moment.isoformat(), "fired": [
            {"case_id": f.case_id, "shop_id": f.shop_id, "outcome": f.outcome,
             "at": f.at.isoformat()} for f in fired]}))
        return
    table = Table(title=f"Deadlines fired at {moment.isoformat()}")
    for col in ("case", "shop", "outcome", "due at"):
        table.add_column(col)
    for f in fired:
        table.add_row(f.case_id, f.shop_id, f.outcome, f.at.isoformat())
    out.print(table)
    out.print(f"{len(fired)} fired")


@app.command()
def migrate(ctx: typer.Context,
            to: str = typer.Option("head", "--to", help="Revision to go up or down to (or base)"),
            force: bool = typer.Option(False, "--force",
                                       help="Downgrade even where it deletes rows")) -> None:
    """Bring the database schema up to date (or to --to REVISION; a downgrade that would
    delete rows is refused unless --force)."""
    from aftersales.adapters.db.migrate import migrate_to  # alembic: only here

    revision = migrate_to(_app(ctx).engine, to.strip(), force=force)
    out.print(f"database at revision {revision or 'base (empty)'}")


@app.command()
def demo(ctx: typer.Context,
         if_empty: bool = typer.Option(False, "--if-empty", help="Do nothing if shops exist"),
         tokens_file: Path = typer.Option(Path("var/demo-tokens.json"), "--tokens-file",
                                          help="Where to write the demo tokens")) -> None:
    """Fill an empty database with a realistic demo shop per platform."""
    from aftersales.entrypoints.demo import (
        prepare_tokens_file,
        print_summary,
        run_demo,
        write_tokens,
    )

    application = _app(ctx)
    with application.deps.uow() as uow:
        exists = bool(uow.shops.list_shops())
    if exists and if_empty:
        out.print("demo: the database already has shops; nothing to do "
                  f"(sign-in and tokens of the demo: {tokens_file})", markup=False, soft_wrap=True)
        return
    if exists:
        raise InvalidInput("the database already has shops; the demo fills an empty one "
                           "(use --if-empty to skip quietly)", code="not_empty")
    try:  # before the demo is written: its tokens are stored hashed, shown only here
        prepare_tokens_file(tokens_file)
    except OSError as exc:
        raise InvalidInput(f"cannot write the demo tokens to {tokens_file}: {exc.strerror}",
                           code="invalid_path") from None
    started = time.perf_counter()
    result = run_demo(application.deps)
    write_tokens(tokens_file, result)
    print_summary(out, result, time.perf_counter() - started, tokens_file)


@shop_app.command("create")
def shop_create(ctx: typer.Context, name: str = typer.Option(..., "--name"),
                platform: str = typer.Option(..., "--platform"),
                sandbox: bool = typer.Option(False, "--sandbox", help="Own clock, instant refunds"),
                timezone: str = typer.Option("Asia/Shanghai", "--timezone")) -> None:
    """Create a shop; prints its id."""
    record = shops.create_shop(_app(ctx).deps, name, platform, sandbox=sandbox, timezone=timezone)
    print(record.shop.id)


@shop_app.command("policy")
def shop_policy(ctx: typer.Context, shop: str = typer.Option(..., "--shop", help="Shop id"),
                file: Path | None = typer.Option(None, "--file",
                                                 help="JSON policy to store (omit to print it)")) -> None:
    """Print a shop's merchant policy as JSON, or replace it with the one in --file."""
    deps = _app(ctx).deps
    if file is None:
        with deps.uow() as uow:
            record = shops.require_shop(uow, shop)
        print(json.dumps(record.policy.to_dict(), ensure_ascii=False, indent=2))
        return
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{file}: not JSON: {exc.msg} (line {exc.lineno})",
                           code="invalid_policy") from None
    except (UnicodeDecodeError, RecursionError, ValueError):  # not UTF-8; too deep; 5,000 digits
        raise InvalidInput(f"{file}: not a JSON policy (UTF-8 text, nested a few levels)",
                           code="invalid_policy") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{file}: a policy is a JSON object", code="invalid_policy")
    view = shops.set_policy(deps, None, shop, data)
    print(json.dumps(view["policy"], ensure_ascii=False, indent=2))


@user_app.command("create")
def user_create(ctx: typer.Context, shop: str = typer.Option(..., "--shop", help="Shop id"),
                username: str = typer.Option(..., "--username"),
                role: str = typer.Option(..., "--role", help="admin, agent, warehouse or finance"),
                name: str | None = typer.Option(None, "--name", help="Display name"),
                password_stdin: bool = typer.Option(
                    False, "--password-stdin", help="Read the password from standard input")) -> None:
    """Create a staff account for the desk; the password is asked for (or read from stdin)."""
    from aftersales.entrypoints.console.staff import create_user

    if password_stdin:
        try:
            password = sys.stdin.buffer.readline().decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise InvalidInput("the password on standard input is not UTF-8 text",
                               code="weak_password") from None
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = create_user(_app(ctx).deps, shop, username, password, role, name)
    print(user.id)


@token_app.command("create")
def token_create(ctx: typer.Context, shop: str = typer.Option(..., "--shop", help="Shop id"),
                 role: str = typer.Option(..., "--role"),
                 buyer: str | None = typer.Option(None, "--buyer", help="Buyer id (buyer role)"),
                 label: str | None = typer.Option(None, "--label"),
                 expires_in: str | None = typer.Option(
                     None, "--expires-in", help="Lifetime, e.g. 30d, 12h, 90m (default: until revoked)")
                 ) -> None:
    """Create an API token; prints it once (only its hash is kept)."""
    lifetime = None if expires_in is None else parse_duration(expires_in)
    print(shops.create_token(_app(ctx).deps, shop, role, buyer, label, lifetime))


@token_app.command("list")
def token_list(ctx: typer.Context, shop: str = typer.Option(..., "--shop", help="Shop id"),
               as_json: bool = typer.Option(False, "--json", help="Print JSON")) -> None:
    """A shop's tokens: id, role, label, expiry, revocation (never the token itself)."""
    tokens = shops.list_tokens(_app(ctx).deps, shop)
    if as_json:
        print(json.dumps(tokens, ensure_ascii=False, indent=2))
        return
    keys = ("id", "role", "buyer_id", "label", "created_at", "expires_at", "revoked_at")
    print("\t".join(keys))  # tab-separated, whole values: ids are for `token revoke`
    for t in tokens:
        print("\t".join(str(t[k] or "-") for k in keys))


@token_app.command("revoke")
def token_revoke(ctx: typer.Context, token: str = typer.Argument(
        ..., help="The token's id (see `token list`), or the token itself")) -> None:
    """Revoke a token: it answers 401 token_revoked from now on (API processes that cached
    it stop within AFTERSALES_TOKEN_CACHE_SECONDS)."""
    view = shops.revoke_token(_app(ctx).deps, token)
    print(f"token {view['id']} revoked at {view['revoked_at']}")


@app.command("import")
def import_(ctx: typer.Context, platform: str = typer.Argument(..., help="e.g. douyin, kuaishou"),
            file: Path = typer.Argument(..., help="JSON lines: one platform payload per line"),
            shop: str = typer.Option(..., "--shop", help="Shop id"),
            batch: int = typer.Option(2000, min=1, help="Payloads per transaction"),
            per_payload: bool = typer.Option(False, "--per-payload",
                                             help="One transaction per payload (no batching)"),
            jobs: int | None = typer.Option(
                None, "--jobs", min=1, max=16,
                help="Import processes, the file shared among them by order "
                     "(default: one per core, up to 4, for files of 4 MB and more)"),
            as_json: bool = typer.Option(False, "--json", help="Print the report as JSON")) -> None:
    """Import platform payloads (JSON lines) for one shop.

    Exit code 0: every line landed; 1: some lines were refused (each on stderr as
    "line N: code: message", the same on SQLite and PostgreSQL) and all the others landed."""
    from aftersales.entrypoints.importer import check_shop, default_jobs, import_file

    application = _app(ctx)
    check_shop(application, shop, platform)
    size = file.stat().st_size  # FileNotFoundError before any work
    jobs = jobs or default_jobs(file)
    started = time.perf_counter()
    with Progress(TextColumn("importing"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                  console=err, transient=True, disable=as_json or not err.is_terminal) as progress:
        task = progress.add_task("import", total=size)
        report = import_file(application, shop, platform, file, batch=batch, jobs=jobs,
                             staged=not per_payload, advance=lambda n: progress.advance(task, n))
    seconds = time.perf_counter() - started
    for error in report.errors:
        err.print(str(error), markup=False)
    if as_json:
        out.print_json(json.dumps({**report.to_dict(), "seconds": round(seconds, 3)}))
    else:
        rate = report.applied / seconds if seconds else 0.0
        out.print(f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
                  f"{len(report.errors)} failed in {seconds:.2f}s ({rate:,.0f} payloads/s)")
    if report.errors:
        raise typer.Exit(1)


cli_backup.register(app, _app, out)
cli_platforms.register(app, _app, out)


def _message(exc: BaseException) -> tuple[str, int]:
    """(one-line message, exit code) for every error a user can cause."""
    if isinstance(exc, ClickException):
        return exc.format_message(), exc.exit_code
    if isinstance(exc, CliError):
        return str(exc), 1
    if isinstance(exc, DomainError):
        return f"{exc.code}: {exc.message}", 1
    if isinstance(exc, PayloadError):
        return f"{exc.code}: {exc.message}", 1
    if isinstance(exc, DatabaseUrlError):
        return f"{exc.code}: {exc}", 1
    if isinstance(exc, DBAPIError):
        text = one_line(exc)
        if "no such table" in text or ("does not exist" in text and "relation" in text):
            return f"database not migrated ({text}); run `aftersales migrate`", 1
        return f"database error: {text}", 1
    if isinstance(exc, FileNotFoundError):
        return f"file not found: {exc.filename}", 1
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 1
    return f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} " \
           "(set AFTERSALES_DEBUG=1 for the traceback)", 70


def main(argv: list[str] | None = None) -> None:
    """The entry point: runs a command; any error ends as one line on stderr."""
    try:
        code = app(args=argv, prog_name="aftersales", standalone_mode=False)
    except typer.Abort:
        code = 130
    except NoArgsIsHelpError as exc:  # bare `aftersales` or `aftersales shop`: the help
        print(exc.format_message())
        code = 2
    except Exception as exc:  # the one place errors become messages
        if os.environ.get("AFTERSALES_DEBUG"):
            raise
        message, code = _message(exc)
        err.print(f"aftersales: error: {message}", markup=False)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
