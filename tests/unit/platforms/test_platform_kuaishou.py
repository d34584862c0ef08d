"""Kuaishou: open.seller.order.refund.detail payloads onto PlatformSnapshot."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from aftersales.adapters.platforms import PayloadError, adapter_for
from aftersales.domain.money import Money
from aftersales.domain.vocabulary import CaseType, Reason, State

FIXTURES = Path(__file__).parents[2] / "fixtures" / "platforms" / "kuaishou"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text("utf-8"))
    return data


def refund(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(load("return_refund_requested.json"))
    payload.update(changes)
    return payload


parse = adapter_for("kuaishou").parse


def test_a_return_request_maps_every_field() -> None:
    snap = parse(load("return_refund_requested.json"))
    assert (snap.platform_case_id, snap.platform_order_id) == ("2100003456789012", "2500001234567890")
    assert (snap.platform_status, snap.state) == ("11", State.requested)
    assert snap.version // 100 == 1741596000000  # updateTime, ms
    assert snap.type is CaseType.return_refund
    assert (snap.reason, snap.raw_reason) == (Reason.quality_issue, "商品质量问题")
    assert snap.requested_amount == Money(8990, "CNY")
    assert snap.buyer_id == "3456789012"
    assert snap.description == "收到后发现鞋底开胶，要求退货退款"
    assert snap.deadline_at is None  # Kuaishou sends none: the profile fills in


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (10, State.requested),
        (11, State.requested),
        (20, State.disputed),
        (21, State.disputed),
        (22, State.disputed),
        (23, State.disputed),
        (30, State.awaiting_return),
        (40, State.return_in_transit),
        (45, State.awaiting_reshipment),
        (50, State.refunding),
        (60, State.completed),
        (70, State.refunding),
    ],
)
def test_status_mapping(status: int, state: State) -> None:
    snap = parse(refund(status=status, negotiateStatus=2))
    assert (snap.state, snap.platform_status) == (state, str(status))


def test_refund_failed_stays_refunding_with_a_flag() -> None:
    snap = parse(load("refund_failed.json"))  # with the {"data": …} envelope
    assert snap.state is State.refunding
    assert snap.extra["refund_failed"] == "true"
    assert snap.refunded_amount is None
    assert (snap.return_carrier, snap.return_waybill) == ("圆通速递", "YT7523698410256")
    assert "refund_failed" not in parse(refund(status=50)).extra


def test_a_rejection_is_negotiate_status_3_on_a_pending_request() -> None:
    snap = parse(load("merchant_rejected.json"))
    assert snap.state is State.rejected
    assert snap.platform_status == "11;negotiateStatus=3"


def test_negotiate_status_3_does_not_reopen_a_later_state() -> None:
    assert parse(refund(status=60, negotiateStatus=3)).state is State.completed


def test_success_reports_the_refund_as_paid() -> None:
    assert parse(refund(status=60)).refunded_amount == Money(8990, "CNY")


@pytest.mark.parametrize(
    ("handling_way", "case_type"),
    [(10, CaseType.refund_only), (1, CaseType.return_refund), (3, CaseType.exchange),
     (4, CaseType.reissue), (5, None)],
)
def test_handling_way_mapping(handling_way: int, case_type: CaseType | None) -> None:
    assert parse(refund(handlingWay=handling_way)).type is case_type


def test_a_reason_code_without_text_is_kept_raw() -> None:
    payload = refund()
    del payload["refundReasonDesc"]
    snap = parse(payload)
    assert (snap.reason, snap.raw_reason) == (None, "refundReason=8")


@pytest.mark.parametrize("field", ["refundId", "oid", "status", "refundFee", "updateTime"])
def test_a_missing_required_field_is_named(field: str) -> None:
    payload = refund()
    del payload[field]
    with pytest.raises(PayloadError, match=rf"^kuaishou: missing field '{field}'$"):
        parse(payload)


@pytest.mark.parametrize("status", [0, 99])
def test_an_unknown_status_is_named_with_its_value(status: int) -> None:
    with pytest.raises(PayloadError, match=rf"field 'status' has unknown value {status}"):
        parse(refund(status=status))


def test_an_unknown_handling_way_is_refused() -> None:
    with pytest.raises(PayloadError, match=r"field 'handlingWay' has unknown value 2"):
        parse(refund(handlingWay=2))


@pytest.mark.parametrize("fee", [89.9, 8990.0])
def test_float_amounts_are_refused(fee: float) -> None:
    with pytest.raises(PayloadError, match=r"field 'refundFee' must be an integer number of fen, got float"):
        parse(refund(refundFee=fee))


def test_a_non_numeric_amount_is_refused() -> None:
    with pytest.raises(PayloadError, match=r"field 'refundFee' must be an integer number of fen"):
        parse(refund(refundFee="89.90"))


def test_the_detail_nests_the_return_waybill_under_logistics_info() -> None:
    # open.seller.order.refund.detail (research A §3.4/§3.8): logisticsInfo {expressNo, expressCode}
    snap = parse(load("detail_return_shipped.json"))
    assert snap.return_waybill == "78123456789012"  # parcels scanned with it now match
    assert snap.extra["express_code"] == "4"  # numeric carrier code, kept, not a carrier name
    assert snap.state is State.return_in_transit


def test_expire_time_and_end_time_are_not_the_platform_deadline() -> None:
    snap = parse(load("detail_return_shipped.json"))  # expireTime 1764897800000 ms
    assert snap.deadline_at is None  # no doc says what they mean; the profile's timers apply


def test_a_flat_express_no_is_tolerated() -> None:
    assert parse(refund(expressNo="SF123", expressCode=1)).return_waybill == "SF123"
