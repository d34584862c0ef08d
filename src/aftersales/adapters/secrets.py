"""Platform credentials encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

The key comes from AFTERSALES_SECRET_KEY (a urlsafe-base64 32-byte Fernet key, as
`Fernet.generate_key()` prints), else from the file `<data dir>/secret.key`, created
with mode 0600 on first use. Losing the key loses the stored credentials (reconnect the
shops); it is never logged. `mask` is the only form of a secret that may be shown.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from aftersales.domain.errors import InvalidInput

ENV = "AFTERSALES_SECRET_KEY"
KEY_FILE = "secret.key"


class SecretKeyError(InvalidInput):
    code = "secret_key_invalid"


def load_key(data_dir: Path) -> bytes:
    """The Fernet key: the environment's, or the data dir's key file (made 0600 if absent)."""
    env = os.environ.get(ENV)
    if env:
        return _checked(env.strip().encode(), ENV)
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(Fernet.generate_key())
    return _checked(path.read_bytes().strip(), str(path))


def _checked(key: bytes, where: str) -> bytes:
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise SecretKeyError(f"{where} is not a Fernet key (32 bytes, urlsafe base64)") from None
    return key


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise SecretKeyError("stored credentials do not decrypt with this secret key "
                                 f"(was {ENV} or the key file changed?)") from None

    def __repr__(self) -> str:  # never the key
        return "SecretBox(<key hidden>)"


def mask(secret: str) -> str:
    """At most the last 4 characters, and none of a short secret."""
    if len(secret) <= 8:
        return "****"
    return "****" + secret[-4:]
