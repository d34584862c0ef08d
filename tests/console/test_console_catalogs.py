"""Every code a page can show has words in both languages; every UI sentence has Chinese."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from aftersales.adapters.profiles import PLATFORMS
from aftersales.domain import vocabulary as v
from aftersales.domain.transitions import ALL_ACTIONS
from aftersales.entrypoints.console import i18n

SRC = Path(i18n.__file__).parents[2]
CONSOLE = Path(i18n.__file__).parent


def _catalog(locale: str) -> dict[str, str]:
    with i18n.po_path(locale).open("rb") as fh:
        return {str(m.id): str(m.string) for m in read_po(fh) if m.id}


def _codes() -> dict[str, set[str]]:
    text = "\n".join(p.read_text("utf-8") for p in (SRC / "domain").glob("*.py"))
    text += "\n".join(p.read_text("utf-8") for p in (SRC / "service").glob("*.py"))
    errors = set(re.findall(r'code\s*=\s*"([a-z_]+)"', text)) | set(re.findall(r'return \("([a-z_]+)"', text))
    policy = (SRC / "domain" / "policy.py").read_text("utf-8")
    rules = set(re.findall(r'RuleHit\(\s*"([a-z_]+)"', policy))
    rules |= set(re.findall(r'"([a-z_]+_required)"', policy))
    events = set(re.findall(r'record\(\s*"([a-z_]+)"', text)) | {"parcel_refused_cod", "platform_sync"}
    return {
        "state": {s.value for s in v.State}, "buyer_state": {s.value for s in v.State},
        "type": {t.value for t in v.CaseType}, "reason": {r.value for r in v.Reason},
        "action": set(ALL_ACTIONS), "event": set(ALL_ACTIONS) | events,
        "outcome": {o.value for o in v.Outcome}, "method": {m.value for m in v.RefundMethod},
        "kind": {k.value for k in v.LedgerKind}, "condition": {c.value for c in v.Condition},
        "disposition": {d.value for d in v.Disposition}, "role": {r.value for r in v.Role},
        "platform": set(PLATFORMS), "payment": {p.value for p in v.PaymentMethod},
        "evidence": {e.value for e in v.EvidenceKind}, "rule": rules, "error": errors,
    }


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_code_has_words(locale: str) -> None:
    catalog = _catalog(locale)
    missing = sorted(f"{kind}.{code}" for kind, codes in _codes().items() for code in codes
                     if not catalog.get(f"{kind}.{code}"))
    assert not missing, f"{locale}: add to messages.po: {missing}"


def test_every_ui_sentence_has_chinese() -> None:
    catalog = _catalog("zh_CN")
    found: set[str] = set()
    for path in [*CONSOLE.glob("templates/*.html"), *CONSOLE.glob("*.py")]:
        found |= {m.group(2) for m in re.finditer(r"""(?:\b_|gettext)\(\s*(["'])((?:(?!\1).)+)\1""",
                                                   path.read_text("utf-8"))}
    missing = sorted(s for s in found if not catalog.get(s))
    assert not missing, f"zh_CN: add to messages.po: {missing}"


def test_locale_formats_money_and_time() -> None:
    zh, en = i18n.Lang("zh_CN"), i18n.Lang("en")
    assert zh.money({"amount": 19900, "currency": "CNY"}) == "¥199.00"
    assert en.money({"amount": 19900, "currency": "CNY"}) == "CN¥199.00"
    assert zh.left(3 * 86400 + 7200) == "剩余 3天2小时" and en.left(-5400) == "1 h 30 min overdue"
    assert "2026年3月2日" in zh.dt("2026-03-02T02:00:00+00:00")
    assert zh.label("state", "requested") == "待商家处理" and en.label("state", "requested") != "requested"
    assert zh.label("state", "no_such_code") == "no_such_code"
