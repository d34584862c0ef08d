"""Evidence files: content sniffed from the bytes, stored content-addressed on disk.

The stored path is derived from the SHA-256 of the content — never from the uploaded
file name — so a name like "../../etc/passwd" can do nothing but be displayed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import filetype

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
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, digest: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError("not a sha256 digest")
        return self.root / digest[:2] / digest

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        return digest

    def get(self, digest: str) -> bytes:
        return self._path(digest).read_bytes()

    def sniff(self, data: bytes) -> str | None:
        return sniff(data)
