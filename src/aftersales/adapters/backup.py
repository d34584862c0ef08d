"""Backups: the database and the evidence files in one folder, checked by a manifest.

    DIR/manifest.json        what, when, revision, rows per table, SHA-256 of every file
    DIR/aftersales.db        SQLite: a copy made by SQLite's online backup API
    DIR/aftersales.pgdump    PostgreSQL: `pg_dump -Fc`
    DIR/evidence/ab/ab12…    the evidence files, content-addressed as in the live folder

Both copies are consistent while the server runs: SQLite's backup API reads one snapshot,
and on PostgreSQL the row counts and pg_dump share one exported snapshot. The database
is copied before the evidence, and a file is stored before the row that names it commits,
so every file the copied rows name is in the folder. A restore checks every hash before
it writes anything, refuses a database that already has tables (unless forced), and
checks the rows per table afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect

from aftersales.adapters import pgtools
from aftersales.domain.errors import InvalidInput

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE, PG_FILE = "aftersales.db", "aftersales.pgdump"


class BackupError(InvalidInput):
    code = "backup_failed"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _kind(engine: Engine) -> str:
    name = engine.url.get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"cannot back up a {name} database")
    return name


def _sqlite_path(engine: Engine) -> Path:
    db = engine.url.database
    if not db or db == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(db)


def _sqlite_counts(path: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(path)) as conn:  # sqlite3's own `with` does not close
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in sorted(names)}


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup API: one consistent snapshot, writers not held up for long."""
    src = sqlite3.connect(source)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def _evidence_files(root: Path) -> Iterator[Path]:
    if root.is_dir():
        yield from sorted(p for p in root.glob("??/*") if p.is_file() and len(p.name) == 64)


def _copy_evidence(root: Path, dest: Path) -> dict[str, str]:
    """Copy each file, checking that its content still matches the hash it is named by."""
    hashes: dict[str, str] = {}
    for path in _evidence_files(root):
        rel = f"{path.parent.name}/{path.name}"
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        digest = sha256_file(target)
        if digest != path.name:
            raise BackupError(f"evidence file {rel} does not match its hash (damaged on disk); "
                              "nothing usable was written")
        hashes[rel] = digest
    return hashes


def _empty_target(dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} is not an empty folder; back up into a new one")
    dest.mkdir(parents=True, exist_ok=True)


def backup(engine: Engine, evidence_root: Path, dest: Path, revision: str | None) -> dict[str, Any]:
    """Write a backup of the database and the evidence into `dest` (new or empty)."""
    kind = _kind(engine)
    _empty_target(dest)
    if kind == "sqlite":
        db_file = dest / SQLITE_FILE
        _sqlite_copy(_sqlite_path(engine), db_file)
        counts = _sqlite_counts(db_file)
    else:
        db_file = dest / PG_FILE
        counts = pgtools.dump(engine.url, db_file)
    manifest = {
        "format": FORMAT, "database": kind, "revision": revision,
        "created_at": datetime.now(UTC).isoformat(), "rows": counts,
        "database_file": db_file.name, "database_sha256": sha256_file(db_file),
        "evidence": _copy_evidence(evidence_root, dest / "evidence"),
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", "utf-8")
    return manifest


def read_manifest(src: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((src / MANIFEST).read_text("utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{src} has no {MANIFEST}: not an aftersales backup") from None
    except (ValueError, UnicodeDecodeError):
        raise BackupError(f"{src / MANIFEST} is not a readable manifest") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{src / MANIFEST}: unknown backup format")
    return manifest


def verify(src: Path, manifest: dict[str, Any]) -> None:
    """Every file present with the hash the manifest gives, before anything is written."""
    files = {str(manifest["database_file"]): str(manifest["database_sha256"])}
    files.update({f"evidence/{rel}": digest for rel, digest in manifest["evidence"].items()})
    for rel, digest in files.items():
        path = src / rel
        if ".." in Path(rel).parts or not path.is_file():
            raise BackupError(f"the backup is missing {rel}; nothing was restored")
        if sha256_file(path) != digest:
            raise BackupError(f"{rel} does not match its SHA-256 in the manifest (the backup is "
                              "damaged); nothing was restored")


def restore(engine: Engine, evidence_root: Path, src: Path, *, force: bool = False) -> dict[str, Any]:
    """Restore `src` into this database (which must have no tables unless `force`)."""
    manifest = read_manifest(src)
    kind = _kind(engine)
    if manifest["database"] != kind:
        raise BackupError(f"this is a backup of a {manifest['database']} database; it restores "
                          f"into {manifest['database']}, not {kind}")
    verify(src, manifest)
    with engine.connect() as conn:
        tables = inspect(conn).get_table_names()
    if tables and not force:
        raise BackupError(f"the database already has {len(tables)} tables; restore into an empty "
                          "one (or add --force to replace what it holds)")
    engine.dispose()  # nothing of ours holds the file or the database while it is replaced
    if kind == "sqlite":
        _sqlite_copy(src / SQLITE_FILE, _sqlite_path(engine))
        counts = _sqlite_counts(_sqlite_path(engine))
    else:
        counts = pgtools.restore(engine.url, src / PG_FILE, clean=bool(tables))
    _restore_evidence(src / "evidence", evidence_root, manifest["evidence"])
    expected = {k: int(v) for k, v in manifest["rows"].items()}
    if counts != expected:
        differ = sorted(k for k in set(counts) | set(expected) if counts.get(k) != expected.get(k))
        raise BackupError(f"restored, but the rows differ from the backup's in: {', '.join(differ)}")
    return manifest


def _restore_evidence(src: Path, root: Path, hashes: dict[str, str]) -> None:
    for rel, digest in hashes.items():
        target = root / rel
        if target.is_file() and sha256_file(target) == digest:
            continue  # content-addressed: the same name is the same file
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(target.name + ".restoring")
        shutil.copyfile(src / rel, temp)
        if sha256_file(temp) != digest:
            temp.unlink()
            raise BackupError(f"evidence {rel} changed while it was copied; run the restore again")
        temp.replace(target)
