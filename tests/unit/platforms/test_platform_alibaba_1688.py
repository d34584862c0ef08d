"""1688 dropshipping: the merchant's own upstream claims (OpQueryOrderRefund)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aftersales.adapters.platforms import PayloadError, adapter_for
from aftersales.domain.money import Money
from aftersales.domain.sync import SnapshotLine
from aftersales.domain.vocabulary import CaseType, Reason, State

FIXTURES = Path(__file__).parents[2] / "fixtures" / "platforms" / "alibaba_1688"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text("utf-8"))
    return data


def claim(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(load("wait_seller_agree.json")["result"]["opOrderRefundModelDetail"])
    payload.update(changes)
    return payload


parse = adapter_for("alibaba_1688").parse


def test_a_claim_maps_every_field() -> None:
    snap = parse(load("wait_seller_agree.json"))
    assert (snap.platform_case_id, snap.platform_order_id) == ("TQ8651493722961198", "151267031008969811")
    assert (snap.platform_status, snap.state) == ("waitselleragree", State.requested)
    assert snap.version // 100 == 1741570215000  # 20250310093015000+0800
    assert snap.type is CaseType.return_refund
    assert (snap.reason, snap.raw_reason) == (Reason.not_as_described, "颜色/图案/款式不符")
    assert snap.requested_amount == Money(3600, "CNY")
    assert snap.deadline_at == datetime(2025, 3, 15, 1, 30, 15, tzinfo=UTC)  # gmtTimeOut
    assert snap.lines == (SnapshotLine("151267031009969811", None, 2),)
    assert snap.extra["upstream"] == "true"


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("waitselleragree", State.requested),
        ("waitbuyermodify", State.rejected),
        ("waitbuyersend", State.awaiting_return),
        ("waitsellerreceive", State.return_in_transit),
        ("refundsuccess", State.completed),
        ("refundclose", State.closed),
    ],
)
def test_status_mapping(status: str, state: State) -> None:
    assert parse(claim(status=status)).state is state


def test_success_reports_what_the_supplier_actually_paid_back() -> None:
    snap = parse(claim(status="refundsuccess", refundPayment=3000))
    assert (snap.requested_amount, snap.refunded_amount) == (Money(3600, "CNY"), Money(3000, "CNY"))
    assert parse(claim(status="waitsellerreceive", refundPayment=3000)).refunded_amount is None


def test_refund_only_claims() -> None:
    assert parse(claim(onlyRefund=True, refundGoods=False)).type is CaseType.refund_only


def test_an_unknown_status_is_named() -> None:
    with pytest.raises(PayloadError, match=r"field 'status' has unknown value 'waitbuyerreceive'"):
        parse(claim(status="waitbuyerreceive"))


@pytest.mark.parametrize("field", ["refundId", "orderId", "status", "applyPayment", "gmtModified"])
def test_a_missing_required_field_is_named(field: str) -> None:
    payload = claim()
    del payload[field]
    with pytest.raises(PayloadError, match=rf"^alibaba_1688: missing field '{field}'$"):
        parse(payload)


def test_a_malformed_time_is_named() -> None:
    with pytest.raises(PayloadError, match=r"field 'gmtModified' must be a time like"):
        parse(claim(gmtModified="2025-03-10 09:30:15"))


def test_float_amounts_and_quantities_are_refused() -> None:
    with pytest.raises(PayloadError, match=r"'applyPayment' must be an integer number of fen, got float"):
        parse(claim(applyPayment=36.0))
    with pytest.raises(PayloadError, match=r"'orderEntryCountMap.151267031009969811' must be an integer"):
        parse(claim(orderEntryCountMap={"151267031009969811": 1.5}))
