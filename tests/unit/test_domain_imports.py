"""The domain is pure: standard library only, and never the wall clock (domain/__init__.py;
ARCHITECTURE: every function that needs "now" takes it as a parameter)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "src" / "aftersales" / "domain"
MODULES = sorted(DOMAIN.rglob("*.py"))
# Attribute calls that read the wall clock.
CLOCK_READS = {"now", "utcnow", "today", "time", "time_ns", "monotonic", "perf_counter"}
CLOCK_OWNERS = {"datetime", "date", "time"}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_there_are_domain_modules() -> None:
    """domain/__init__.py: the pure core."""
    assert {p.stem for p in MODULES} >= {"case", "deadlines", "money", "policy", "refunds", "transitions"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_domain_imports_only_the_standard_library_and_itself(path: Path) -> None:
    """domain/__init__.py: standard library only, no I/O."""
    bad = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside the domain package
                continue
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            ok = (name == "aftersales.domain" or name.startswith("aftersales.domain.")
                  or name == "__future__" or top in sys.stdlib_module_names)
            if not ok:
                bad.append(f"{path.name}:{node.lineno} imports {name}")
    assert not bad, bad


def _clock_reads(tree: ast.Module, name: str) -> list[str]:
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            owner_name = owner.id if isinstance(owner, ast.Name) else (
                owner.attr if isinstance(owner, ast.Attribute) else None)
            if node.func.attr in CLOCK_READS and owner_name in CLOCK_OWNERS:
                bad.append(f"{name}:{node.lineno} calls {owner_name}.{node.func.attr}()")
        if isinstance(node, ast.ImportFrom) and node.module == "time":
            bad += [f"{name}:{node.lineno} imports time.{a.name}" for a in node.names
                    if a.name in CLOCK_READS]
    return bad


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_domain_never_reads_the_wall_clock(path: Path) -> None:
    """domain/__init__.py: never the wall clock — "now" is always passed in, so a sandbox shop's
    clock (API.md Sandbox clocks) is the only clock the rules see."""
    bad = _clock_reads(_tree(path), path.name)
    assert not bad, bad


def test_the_check_itself_catches_clock_reads() -> None:
    """A guard for the guard: the AST check recognises every call it forbids."""
    sample = ast.parse("import datetime, time\nfrom time import monotonic\n"
                       "a = datetime.datetime.now()\nb = datetime.utcnow()\nc = date.today()\n"
                       "d = time.time()\ne = datetime.now(UTC)\nf = x.now_ish()\n")
    found = _clock_reads(sample, "sample")
    assert len(found) == 6, found
