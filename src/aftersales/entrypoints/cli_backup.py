"""`aftersales backup --to DIR` and `aftersales restore --from DIR` (adapters/backup.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from aftersales.entrypoints.bootstrap import App, evidence_root


def register(app: typer.Typer, wired: Callable[[typer.Context], App], out: Console) -> None:
    @app.command()
    def backup(ctx: typer.Context,
               to: Path = typer.Option(..., "--to", help="A new (or empty) folder")) -> None:
        """Back up the database and the evidence files, consistently, while the server runs."""
        from aftersales.adapters.backup import backup as run_backup
        from aftersales.adapters.db.migrate import current_revision

        application = wired(ctx)
        manifest = run_backup(application.engine, _evidence(application), to,
                              current_revision(application.engine))
        out.print(f"backed up the {manifest['database']} database ({_summary(manifest)}) to {to}",
                  markup=False, soft_wrap=True)

    @app.command()
    def restore(ctx: typer.Context,
                from_: Path = typer.Option(..., "--from", help="A folder `backup` wrote"),
                force: bool = typer.Option(False, "--force",
                                           help="Replace a database that already has tables")) -> None:
        """Restore a backup into an empty database and the evidence folder, every hash checked."""
        from aftersales.adapters.backup import restore as run_restore

        application = wired(ctx)
        manifest = run_restore(application.engine, _evidence(application), from_, force=force)
        out.print(f"restored the {manifest['database']} database ({_summary(manifest)}) "
                  f"from {from_}, every hash and row count checked", markup=False, soft_wrap=True)


def _evidence(application: App) -> Path:
    root = getattr(application.deps.blobs, "root", None)
    return Path(root) if root is not None else evidence_root()


def _summary(manifest: dict[str, Any]) -> str:
    rows = sum(int(n) for n in manifest["rows"].values())
    return (f"revision {manifest['revision']}, {len(manifest['rows'])} tables, {rows} rows, "
            f"{len(manifest['evidence'])} evidence files")
