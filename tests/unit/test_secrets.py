"""Credentials at rest: the Fernet key from the environment or a 0600 key file; a wrong
key says so in one line; masks never show more than the last four characters."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from aftersales.adapters.secrets import ENV, SecretBox, SecretKeyError, load_key, mask


def test_the_key_file_is_made_once_with_mode_0600(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    first = load_key(tmp_path / "data")
    path = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(tmp_path / "data") == first


def test_the_environment_key_wins_and_a_bad_one_is_refused(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key()
    monkeypatch.setenv(ENV, key.decode())
    assert load_key(tmp_path) == key
    assert not (tmp_path / "secret.key").exists()
    monkeypatch.setenv(ENV, "not-a-key")
    with pytest.raises(SecretKeyError, match=ENV):
        load_key(tmp_path)


def test_sealed_text_opens_only_with_its_key() -> None:
    box = SecretBox(Fernet.generate_key())
    sealed = box.seal("s3cr3t-app-secret")
    assert "s3cr3t" not in sealed and box.open(sealed) == "s3cr3t-app-secret"
    with pytest.raises(SecretKeyError, match="do not decrypt"):
        SecretBox(Fernet.generate_key()).open(sealed)
    assert "key" in repr(box) and Fernet.generate_key().decode() not in repr(box)


def test_masks_show_at_most_four_characters() -> None:
    assert mask("abcdefghijkl") == "****ijkl"
    assert mask("short") == "****"
