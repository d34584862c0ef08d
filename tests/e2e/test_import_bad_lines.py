"""One bad line never loses an import (issue 19), and both databases refuse it alike.

A NUL character, a lone surrogate or an over-long id made PostgreSQL refuse the batch
and the per-payload replay: exit 70, none of the good lines landed, while SQLite stored
the same values silently. Each bad line is now refused before any write, with its line
number, the same way on both databases; the good lines land; the exit code is 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import DATABASES, database
from integration.payloads import kuaishou_stream

from .test_cli import run

GOOD = 12


def bad_file(path: Path) -> dict[int, str]:
    """A stream of GOOD good payloads with bad ones among them: {line: expected code}."""
    lines = kuaishou_stream(GOOD, start=500)
    template = json.loads(lines[0])
    bad = {
        "nul in text": {**template, "refundId": 91, "refundDesc": "开胶\u0000了"},
        "control in id": {**template, "refundId": "92\u0007"},
        "long case id": {**template, "refundId": "9" * 121},
        "long buyer id": {**template, "refundId": 93, "buyerId": "b" * 121},
        "lone surrogate": {**template, "refundId": 94, "refundDesc": "bad \ud800 text"},
    }
    out, expected = [], {}
    for k, line in enumerate(lines):
        out.append(line)
        if k % 2 == 1 and bad:
            name, payload = bad.popitem()
            out.append(json.dumps(payload))
            expected[len(out)] = "value_too_long" if "long" in name else "invalid_text"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return expected


@pytest.fixture(scope="module", params=DATABASES)
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with database(request.param, tmp_path_factory.mktemp("bad-lines")) as url:
        assert run("migrate", cwd=Path(str(tmp_path_factory.getbasetemp())), db=url).returncode == 0
        yield url


@pytest.mark.parametrize("mode", [[], ["--per-payload"], ["--batch", "3"], ["--jobs", "2"]])
def test_bad_lines_are_refused_by_number_and_the_good_ones_land(
        db: str, tmp_path: Path, mode: list[str]) -> None:
    shop = run("shop", "create", "--name", "快手店", "--platform", "kuaishou", cwd=tmp_path,
               db=db).stdout.strip()
    path = tmp_path / "mixed.jsonl"
    expected = bad_file(path)
    result = run("import", "kuaishou", str(path), "--shop", shop, "--json", *mode,
                 cwd=tmp_path, db=db)
    assert result.returncode == 1, result.stderr  # 1: some lines were refused
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    refused = {int(ln.split(":")[0].removeprefix("line ")): ln.split(": ")[1]
               for ln in result.stderr.splitlines()}
    assert refused == expected, result.stderr
    report = json.loads(result.stdout)
    assert report["failed"] == len(expected)
    assert report["created"] + report["updated"] + report["unchanged"] == GOOD
    again = run("import", "kuaishou", str(path), "--shop", shop, "--json", cwd=tmp_path, db=db)
    assert json.loads(again.stdout)["unchanged"] == GOOD  # all of them landed the first time
