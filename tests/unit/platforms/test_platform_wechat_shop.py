"""WeChat shop: channels/ec/aftersale/getaftersaleorder payloads onto PlatformSnapshot."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aftersales.adapters.platforms import PayloadError, adapter_for
from aftersales.domain.money import Money
from aftersales.domain.sync import SnapshotLine
from aftersales.domain.vocabulary import CaseType, Reason, State

FIXTURES = Path(__file__).parents[2] / "fixtures" / "platforms" / "wechat_shop"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text("utf-8"))
    return data


def order(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(load("return_processing.json")["after_sale_order"])
    payload.update(changes)
    return payload


parse = adapter_for("wechat_shop").parse
UPDATED = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)  # update_time 1741593600


def test_a_return_request_maps_every_field() -> None:
    snap = parse(load("return_processing.json"))
    assert (snap.platform_case_id, snap.platform_order_id) == ("1934164653012121", "3719845612390876543")
    assert (snap.platform_status, snap.state) == ("MERCHANT_PROCESSING", State.requested)
    assert snap.version // 100 == 1741593600000
    assert snap.type is CaseType.return_refund
    assert (snap.reason, snap.raw_reason) == (Reason.quality_issue, "商品质量问题")
    assert snap.requested_amount == Money(25800, "CNY")
    assert snap.buyer_id == "oTVP50O53a7jgmawAmxKukNlq3XI"
    assert snap.description == "茶叶受潮结块，有霉味"
    assert snap.lines == (SnapshotLine("2134567890", "TEA-LJ-250G", 2),)
    assert snap.deadline_at is None  # 172800 s left, but left from when? no fetch time given


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("MERCHANT_PROCESSING", State.requested),
        ("USER_WAIT_CONFIRM", State.requested),
        ("MERCHANT_REJECT_REFUND", State.rejected),
        ("MERCHANT_REJECT_RETURN", State.rejected),
        ("MERCHANT_REJECT_RESHIP", State.rejected),
        ("USER_WAIT_RETURN", State.awaiting_return),
        ("MERCHANT_WAIT_RECEIPT", State.return_in_transit),
        ("PLATFORM_REFUNDING", State.refunding),
        ("PLATFORM_REFUND_FAIL", State.refunding),
        ("MERCHANT_OVERDUE_REFUND", State.refunding),
        ("MERCHANT_REFUND_SUCCESS", State.completed),
        ("MERCHANT_RETURN_SUCCESS", State.completed),
        ("USER_CANCELD", State.closed),
        ("RETURN_CLOSED", State.closed),
        ("MERCHANT_REFUND_RETRY_FAIL", State.closed),
        ("MERCHANT_FAIL", State.closed),
        # the six the adapter refused (WxJava AfterSaleStatus; the rest secondary, research B §2.4)
        ("USER_WAIT_CONFIRM_UPDATE", State.requested),
        ("USER_WAIT_HANDLE_MERCHANT_AFTER_SALE", State.requested),
        ("WAIT_PACKAGE_INTERCEPT", State.return_in_transit),
        ("MERCHANT_REJECT_EXCHANGE", State.rejected),
        ("USER_WAIT_RECEIPT", State.awaiting_reshipment),
        ("MERCHANT_EXCHANGE_SUCCESS", State.completed),
    ],
)
def test_status_mapping(status: str, state: State) -> None:
    snap = parse(order(status=status))
    assert (snap.state, snap.platform_status) == (state, status)


def test_a_failed_platform_refund_is_flagged() -> None:
    snap = parse(load("platform_refund_fail.json"))
    assert (snap.state, snap.extra["refund_failed"]) == (State.refunding, "true")
    assert snap.type is CaseType.refund_only and snap.reason is Reason.no_reason


def test_a_rejection_with_a_complaint_is_disputed() -> None:
    snap = parse(load("rejected_with_complaint.json"))
    assert snap.state is State.disputed
    assert snap.extra["complaint_id"] == "2314567890123456"


def test_a_complaint_does_not_override_other_states() -> None:
    assert parse(order(status="MERCHANT_REFUND_SUCCESS", complaint_id="1")).state is State.completed


def test_the_deadline_counts_from_fetched_at_when_given() -> None:
    fetched = 1741600800  # 2 hours after update_time
    snap = parse({"after_sale_order": order(), "fetched_at": fetched})
    assert snap.deadline_at == UPDATED + timedelta(hours=2) + timedelta(hours=48)


def test_an_old_update_without_a_fetch_time_gives_no_deadline_not_a_past_one() -> None:
    # Documented shape (research B §2.7): updated days before the fetch, 172,000 s left.
    snap = parse(load("old_update_seconds_left.json"))
    assert snap.deadline_at is None  # counting from update_time put it days in the past


def test_the_caller_passes_when_it_fetched() -> None:
    fetched = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    snap = adapter_for("wechat_shop").parse(load("old_update_seconds_left.json"), fetched_at=fetched)
    assert snap.deadline_at == fetched + timedelta(seconds=172000)


def test_a_large_deadline_is_seconds_left_too() -> None:
    snap = parse({"after_sale_order": order(deadline=1741766400), "fetched_at": 1741593600})
    assert snap.deadline_at == UPDATED + timedelta(seconds=1741766400)  # no "absolute" reading


@pytest.mark.parametrize("deadline", [0, None])
def test_no_deadline(deadline: int | None) -> None:
    assert parse(order(deadline=deadline)).deadline_at is None


@pytest.mark.parametrize(("code", "case_type"), [("REFUND", CaseType.refund_only),
                                                 ("RETURN", CaseType.return_refund),
                                                 ("EXCHANGE", CaseType.exchange),
                                                 ("RESHIP", CaseType.reissue)])
def test_type_mapping(code: str, case_type: CaseType) -> None:
    assert parse(order(type=code)).type is case_type


@pytest.mark.parametrize("field", ["after_sale_order_id", "order_id", "status", "update_time"])
def test_a_missing_required_field_is_named(field: str) -> None:
    payload = order()
    del payload[field]
    with pytest.raises(PayloadError, match=rf"^wechat_shop: missing field '{field}'$"):
        parse(payload)


def test_an_unknown_status_is_named_with_its_value() -> None:
    with pytest.raises(PayloadError, match=r"field 'status' has unknown value 'MERCHANT_THINKING'"):
        parse(order(status="MERCHANT_THINKING"))


def test_a_float_amount_is_refused_with_its_path() -> None:
    with pytest.raises(PayloadError, match=r"field 'refund_info.amount' must be an integer number of fen"):
        parse(order(refund_info={"amount": 258.0}))
