"""Upstream claims on suppliers (PLATFORMS.md "1688 dropshipping": createRefund amount ≤
paid, 2–150 character description, 1–5 evidence images; track what was recovered)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aftersales.adapters.profiles import load_profile
from aftersales.domain.errors import InvalidInput, InvalidTransition, RuleRefused
from aftersales.domain.money import Money
from aftersales.domain.upstream import (
    UpstreamClaim,
    record_recovery,
    refuse,
    validate_claim,
    withdraw,
)

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
RULE: dict[str, Any] = load_profile("alibaba_1688").rule("upstream_claim")


def cny(amount: int) -> Money:
    return Money(amount, "CNY")


def claim(amount: int = 5000, recovered: int = 0, status: str = "open") -> UpstreamClaim:
    return UpstreamClaim("c1", "s1", "case1", "义乌供应商", "SO-1", cny(amount), cny(recovered),
                         status, "商品破损", 2, NOW)


def valid(**kw: Any) -> str:
    args: dict[str, Any] = {"amount": cny(4500), "paid": cny(5200), "description": "商品破损已退款",
                            "evidence_count": 2}
    args.update(kw)
    return validate_claim(RULE, **args)


def test_the_1688_profile_names_the_bounds() -> None:
    assert RULE["amount_max"] == "paid"
    assert RULE["description_min_chars"] < RULE["description_max_chars"]
    assert RULE["evidence_images_min"] <= RULE["evidence_images_max"]


def test_a_claim_within_the_profile_bounds_passes_and_is_stripped() -> None:
    assert valid(description="  商品破损  ") == "商品破损"
    low, high = RULE["description_min_chars"], RULE["description_max_chars"]
    assert valid(description="x" * low) and valid(description="x" * high)
    assert valid(evidence_count=RULE["evidence_images_min"])
    assert valid(evidence_count=RULE["evidence_images_max"])
    assert valid(amount=cny(5200))  # exactly what was paid


@pytest.mark.parametrize(("kw", "code"), [
    ({"description": "x"}, "claim_description_length"),
    ({"description": "   "}, "claim_description_length"),
    ({"description": "x" * 151}, "claim_description_length"),
    ({"evidence_count": 0}, "claim_evidence_count"),
    ({"evidence_count": 6}, "claim_evidence_count"),
    ({"evidence_count": -1}, "claim_evidence_count"),
    ({"amount": cny(0)}, "invalid_amount"),
    ({"amount": cny(-5)}, "invalid_amount"),
    ({"paid": Money(5200, "USD")}, "currency_mismatch"),
])
def test_invalid_claims_are_refused_with_a_code(kw: dict[str, Any], code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        valid(**kw)
    assert err.value.code == code


def test_a_claim_above_what_was_paid_is_refused_by_rule() -> None:
    """createRefund: applyPayment ≤ paid (PLATFORMS.md / 1688)."""
    with pytest.raises(RuleRefused) as err:
        valid(amount=cny(5201))
    assert err.value.code == "claim_amount_exceeds_paid"
    assert valid(amount=cny(9999), paid=None)  # the supplier price unknown: no bound to check


def test_a_profile_without_the_rule_sets_no_bounds() -> None:
    assert validate_claim(None, amount=cny(1), paid=None, description="", evidence_count=0) == ""
    assert validate_claim({}, amount=cny(9), paid=cny(1), description="x" * 500,
                          evidence_count=40) == "x" * 500
    with pytest.raises(InvalidInput):
        validate_claim(None, amount=cny(0), paid=None, description="", evidence_count=0)


def test_recovery_in_parts_until_recovered() -> None:
    later = NOW + timedelta(days=3)
    part = record_recovery(claim(), cny(2000), NOW)
    assert part.status == "partially_recovered" and part.recovered == cny(2000)
    assert part.outstanding == cny(3000) and part.settled_at is None
    full = record_recovery(part, cny(3000), later)
    assert full.status == "recovered" and full.settled_at == later
    assert full.outstanding == cny(0)
    with pytest.raises(InvalidTransition):
        record_recovery(full, cny(1), later)


def test_recovery_is_never_above_the_claim() -> None:
    with pytest.raises(RuleRefused) as err:
        record_recovery(claim(5000, 4000, "partially_recovered"), cny(1001), NOW)
    assert err.value.code == "recovery_exceeds_claim"
    for bad, code in ((cny(0), "invalid_amount"), (Money(10, "USD"), "currency_mismatch")):
        with pytest.raises(InvalidInput) as e:
            record_recovery(claim(), bad, NOW)
        assert e.value.code == code


def test_refuse_and_withdraw_settle_an_active_claim_once() -> None:
    refused = refuse(claim(5000, 1000, "partially_recovered"), NOW)
    assert refused.status == "refused" and refused.settled_at == NOW
    assert refused.outstanding == cny(0)  # nothing more is expected; the rest is lost
    assert withdraw(claim(), NOW).status == "withdrawn"
    for done in ("recovered", "refused", "withdrawn"):
        with pytest.raises(InvalidTransition):
            refuse(claim(status=done), NOW)
        with pytest.raises(InvalidTransition):
            withdraw(claim(status=done), NOW)


@given(st.lists(st.integers(min_value=-10, max_value=6000), max_size=8))
def test_recovered_never_exceeds_the_amount(parts: list[int]) -> None:
    current = claim()
    for part in parts:
        with contextlib.suppress(InvalidInput, RuleRefused, InvalidTransition):
            current = record_recovery(current, cny(part), NOW)
        assert 0 <= current.recovered.amount <= current.amount.amount
        assert (current.status == "recovered") == (current.recovered == current.amount)
