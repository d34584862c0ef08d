"""`aftersales fake-platform` (a fake open API to develop and test against), and the
commands of live platform connections: `connect`, `sync`, `outbox list|retry`."""

from __future__ import annotations

from collections.abc import Callable

import typer
from rich.console import Console

from aftersales.domain.errors import InvalidInput
from aftersales.entrypoints.bootstrap import App
from aftersales.service.connection_ports import PlatformRefused

FAKES = ("douyin",)


def register(app: typer.Typer, wired: Callable[[typer.Context], App], out: Console) -> None:
    @app.command("fake-platform")
    def fake_platform(
            platform: str = typer.Option(..., "--platform", help="douyin"),
            port: int = typer.Option(..., "--port"),
            host: str = typer.Option("127.0.0.1", "--host"),
            app_key: str = typer.Option("7012345678901234567", "--app-key"),
            app_secret: str = typer.Option("fake-app-secret", "--app-secret"),
            push_url: str | None = typer.Option(None, "--push-url",
                                                help="Where signed pushes are POSTed"),
            qps: int = typer.Option(20, "--qps", help="Calls per second per method")) -> None:
        """Serve a fake platform open API (its clock, timers, rate limits, signed pushes)."""
        import uvicorn

        from aftersales.adapters.platforms.fake.douyin_app import Fake, build

        if platform not in FAKES:
            raise typer.BadParameter(f"no fake for {platform!r}; there is: {', '.join(FAKES)}",
                                     param_hint="--platform")
        fake = Fake(app_key=app_key, app_secret=app_secret, push_url=push_url, qps=qps)
        uvicorn.run(build(fake), host=host, port=port, log_level="warning")

    @app.command()
    def connect(ctx: typer.Context, shop: str = typer.Option(..., "--shop", help="Shop id"),
                platform: str = typer.Option(..., "--platform"),
                app_key: str = typer.Option(..., "--app-key"),
                app_secret: str = typer.Option(..., "--app-secret",
                                               envvar="AFTERSALES_APP_SECRET",
                                               help="Or AFTERSALES_APP_SECRET"),
                base_url: str = typer.Option(..., "--base-url",
                                             help="The platform's open-API gateway")) -> None:
        """Connect a shop to its platform: the credentials are checked, then kept encrypted."""
        from aftersales.adapters.platforms.connections import connection_for
        from aftersales.domain.vocabulary import Role
        from aftersales.service import platform_sync
        from aftersales.service.ports import Principal

        deps = wired(ctx).deps
        connection = connection_for(platform, base_url)
        try:
            platform_sync.connect(deps, Principal(shop, Role.admin, None, "cli"), platform,
                                  base_url, app_key, app_secret, connection)
        except PlatformRefused as e:
            raise InvalidInput(f"{platform} refused the credentials: {e}",
                               code="platform_refused") from None
        finally:
            connection.close()
        with deps.uow() as uow:
            record = uow.connections.get(shop)
        assert record is not None
        out.print(f"connected shop {shop} to {platform} at {base_url} (app key {app_key}, "
                  f"secret {record.secret_masked})", markup=False, soft_wrap=True)

    @app.command()
    def sync(ctx: typer.Context, shop: str = typer.Option(..., "--shop", help="Shop id")) -> None:
        """One pull of the shop's changed after-sales from its platform, from the cursor."""
        from aftersales.adapters.platforms.connections import connection_for
        from aftersales.service import platform_sync

        result = platform_sync.pull(wired(ctx).deps, shop, connection_for)
        if result.error:
            raise InvalidInput(f"pull failed: {result.error} (applied {result.applied} "
                               "before it; the cursor stays where it was)", code="platform_refused")
        lag = "-" if result.lag_seconds is None else f"{result.lag_seconds:.1f}s"
        out.print(f"pulled: {result.applied} applied, {result.unchanged} unchanged, "
                  f"cursor {result.cursor}, lag {lag}", markup=False, soft_wrap=True)


    outbox_app = typer.Typer(no_args_is_help=True, help="Write-backs to the platform")
    app.add_typer(outbox_app, name="outbox")

    @outbox_app.command("list")
    def outbox_list(ctx: typer.Context, shop: str = typer.Option(..., "--shop", help="Shop id"),
                    status: str | None = typer.Option(
                        None, "--status", help="pending, sent, confirmed or failed")) -> None:
        """The shop's write-backs, oldest first: status, attempts, the platform's last error."""
        if status not in (None, "pending", "sent", "confirmed", "failed"):
            raise typer.BadParameter("pending, sent, confirmed or failed", param_hint="--status")
        with wired(ctx).deps.uow() as uow:
            rows = uow.outbox.list(shop, status)
        for row in rows:
            error = f"  {row.last_error}" if row.last_error else ""
            out.print(f"{row.id}  {row.status:<9} {row.act:<15} case {row.case_id}  "
                      f"attempts {row.attempts}{error}", markup=False, soft_wrap=True)
        if not rows:
            out.print("no write-backs", markup=False)

    @outbox_app.command("retry")
    def outbox_retry(ctx: typer.Context, shop: str = typer.Option(..., "--shop", help="Shop id"),
                     row: str = typer.Argument(..., help="The failed write-back's id")) -> None:
        """Send a failed write-back again (the platform still makes it once, by its key)."""
        deps = wired(ctx).deps
        with deps.uow() as uow:
            done = uow.outbox.retry(shop, row, deps.clock.now())
            uow.commit()
        if not done:
            raise InvalidInput(f"no failed write-back {row} in shop {shop}",
                               code="outbox_not_failed")
        out.print(f"write-back {row} is pending again; the worker sends it next",
                  markup=False)
