"""The demo's tokens file holds live API tokens and the staff password: owner-only (0600),
whether the file is new or was there before with a wider mode."""

from __future__ import annotations

import json
import os
from pathlib import Path

from aftersales.entrypoints.demo import DemoResult, prepare_tokens_file, write_tokens


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_new_tokens_file_is_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "var" / "demo-tokens.json"
    old = os.umask(0)  # the widest: a plain open() would make it 0666
    try:
        prepare_tokens_file(path)
        assert _mode(path) == 0o600
        write_tokens(path, DemoResult(staff_password="pw"))
    finally:
        os.umask(old)
    assert _mode(path) == 0o600
    assert json.loads(path.read_text("utf-8"))["staff_sign_in"]["password"] == "pw"


def test_an_existing_world_readable_file_is_narrowed_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "demo-tokens.json"
    path.write_text("an old, longer content than the new one " * 20, encoding="utf-8")
    path.chmod(0o644)
    prepare_tokens_file(path)
    assert _mode(path) == 0o600
    path.chmod(0o644)
    write_tokens(path, DemoResult(staff_password="pw"))
    assert _mode(path) == 0o600
    assert json.loads(path.read_text("utf-8"))["staff_sign_in"]["password"] == "pw"
