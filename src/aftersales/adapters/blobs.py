"""Evidence files: content sniffed from the bytes, stored content-addressed on disk.

The stored path is derived from the SHA-256 of the content — never from the uploaded
file name — so a name like "../../etc/passwd" can do nothing but be displayed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

import filetype

from aftersales.service.errors import NotFound, StorageUnavailable

ALLOWED = {
    "image/jpeg": "photo", "image/png": "photo", "image/gif": "photo", "image/webp": "photo",
    "image/heic": "photo", "video/mp4": "video", "video/quicktime": "video",
    "video/webm": "video", "application/pdf": "other",
}


def sniff(data: bytes) -> str | None:
    """The real content type of these bytes if it is one we accept, else None."""
    kind = filetype.guess(data[:8192])
    if kind is None or kind.mime not in ALLOWED:
        return None
    return str(kind.mime)


class FileBlobStore:
    """Files under `root`, written whole or not at all.

    A file is written to a temporary name in its own directory, flushed to disk and
    renamed into place, so a reader never sees half a file; a failed write (a full disk, a
    read-only or missing directory) removes its temporary file and raises
    StorageUnavailable, which the API answers 503 `storage_unavailable`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, digest: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError("not a sha256 digest")
        return self.root / digest[:2] / digest

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        try:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                _write_whole(path, data)
        except OSError as exc:
            raise StorageUnavailable(f"evidence storage cannot be written: {_reason(exc)}"
                                     ) from exc
        return digest

    def get(self, digest: str) -> bytes:
        path = self._path(digest)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            if not self.root.is_dir():  # the storage itself is gone (unmounted, moved)
                raise StorageUnavailable("evidence storage is not available") from None
            raise NotFound("the evidence file is missing from storage",
                           code="evidence_file_missing") from None
        except OSError as exc:
            raise StorageUnavailable(f"evidence storage cannot be read: {_reason(exc)}") from exc

    def writable(self) -> str | None:
        """None if a file can be written under `root` now, else why not (readiness)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            _write_whole(self.root / ".ready-probe", b"ok")
        except OSError as exc:
            return f"evidence storage cannot be written: {_reason(exc)}"
        return None

    def sniff(self, data: bytes) -> str | None:
        return sniff(data)


def _write_whole(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
