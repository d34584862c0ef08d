"""`aftersales fake-platform` (a fake open API to develop and test against), and the
commands of live platform connections: `connect`, `sync`, `outbox list|retry`."""

from __future__ import annotations

from collections.abc import Callable

import typer
from rich.console import Console

from aftersales.entrypoints.bootstrap import App

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
