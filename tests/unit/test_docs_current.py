"""docs/ is generated from the transition table and the profiles; it must never drift.

If this fails, run `make docs` (python -m aftersales.entrypoints.docs docs/) and commit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aftersales.entrypoints.docs import write_docs

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    target = tmp_path_factory.mktemp("docs")
    return {p.name: p.read_text(encoding="utf-8") for p in write_docs(target)}


@pytest.mark.parametrize("name", ["state-diagram.md", "platform-deadlines.md"])
def test_committed_docs_are_current(generated: dict[str, str], name: str) -> None:
    committed = DOCS / name
    assert committed.exists(), f"docs/{name} is missing: run `make docs`"
    assert committed.read_text(encoding="utf-8") == generated[name], (
        f"docs/{name} is out of date: run `make docs` and commit it"
    )


def test_every_transition_row_and_platform_is_documented(generated: dict[str, str]) -> None:
    from aftersales.adapters.profiles import PLATFORMS, load_all
    from aftersales.domain.transitions import TABLE

    diagram = generated["state-diagram.md"]
    assert "```mermaid" in diagram
    table_rows = [ln for ln in diagram.splitlines() if ln.startswith("| ") and "---" not in ln]
    assert len(table_rows) == len(TABLE) + 1  # plus the header
    deadlines = generated["platform-deadlines.md"]
    for platform, profile in load_all().items():
        assert f"(`{platform}`)" in deadlines
        assert all(d.rule in deadlines for d in profile.deadlines)
    assert len(PLATFORMS) == 9
