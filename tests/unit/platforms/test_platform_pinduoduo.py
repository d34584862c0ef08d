"""Pinduoduo: detail and list payloads, the after_sales_type trap, speed refunds."""

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

FIXTURES = Path(__file__).parents[2] / "fixtures" / "platforms" / "pinduoduo"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text("utf-8"))
    return data


def detail(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(load("detail_return_refund.json"))
    payload.update(changes)
    return payload


def listed(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(load("list_item_refund_only.json"))
    payload.update(changes)
    return payload


parse = adapter_for("pinduoduo").parse


def test_a_detail_response_maps_every_field() -> None:
    snap = parse(load("detail_return_refund.json"))
    assert (snap.platform_case_id, snap.platform_order_id) == ("2983456712", "250310-123456789012345")
    assert (snap.platform_status, snap.state) == ("3", State.requested)
    assert snap.version // 100 == 1741600800000
    assert snap.type is CaseType.return_refund  # detail numbering: 2 = 退货退款
    assert (snap.reason, snap.raw_reason) == (Reason.quality_issue, "质量问题")
    assert snap.requested_amount == Money(4590, "CNY")  # detail: fen
    assert snap.deadline_at == datetime(2025, 3, 12, 10, 0, tzinfo=UTC)  # expire_time
    assert snap.description == "杯子收到就有裂缝，漏水"
    assert snap.lines == (SnapshotLine("1234567890123", "MUG-350-WHT", 1),)
    assert snap.extra["after_sales_type_source"] == "detail"


@pytest.mark.parametrize(
    ("code", "case_type"),
    [(1, CaseType.refund_only), (2, CaseType.return_refund), (3, CaseType.exchange),
     (4, CaseType.reissue), (5, None)],
)
def test_detail_after_sales_type_numbering(code: int, case_type: CaseType | None) -> None:
    assert parse(detail(after_sales_type=code)).type is case_type


@pytest.mark.parametrize("code", [1, 2, 3, 4, 5, 6])
def test_a_list_items_type_numbering_is_undocumented_so_not_guessed(code: int) -> None:
    snap = parse(listed(after_sales_type=code))
    assert snap.type is None  # the detail fetched after a list hit gives the type
    assert snap.extra["after_sales_type"] == str(code)


def test_a_list_item_maps_its_own_spellings() -> None:
    snap = parse(load("list_item_refund_only.json"))  # no marker: told by its shape
    assert snap.requested_amount == Money(4590, "CNY")  # "45.90" yuan
    assert (snap.reason, snap.raw_reason) == (Reason.no_reason, "不想要了")
    assert snap.extra["after_sales_type_source"] == "list"
    assert snap.lines == (SnapshotLine("1234567890124", "MUG-350-BLU", 1),)


def test_a_documented_list_item_is_read_in_yuan_without_any_marker() -> None:
    # research B §1.7: an item of refund_increment_get_response.refund_list, 元 string.
    item = load("list_item_documented.json")
    snap = parse(item)
    assert snap.requested_amount == Money(4500, "CNY")  # "45" is ¥45, not ¥0.45
    assert snap.extra["after_sales_type_source"] == "list"
    assert snap.version // 100 == 1765100300000
    assert parse({**item, "refund_amount": "45.90"}).requested_amount == Money(4590, "CNY")


def test_a_list_item_with_only_the_common_fields_is_told_by_its_string_amount() -> None:
    bare = {"id": 1, "order_sn": "251207-1", "after_sales_status": 2, "refund_amount": "45",
            "updated_time": "1765100300"}
    assert parse(bare).requested_amount == Money(4500, "CNY")
    assert parse({**bare, "refund_amount": 4500}).requested_amount == Money(4500, "CNY")  # fen


def test_list_amounts_must_be_yuan_strings() -> None:
    with pytest.raises(PayloadError, match=r"field 'refund_amount' must be a decimal string"):
        parse(listed(refund_amount=4590))
    with pytest.raises(PayloadError, match=r"field 'refund_amount' is not a valid CNY amount"):
        parse(listed(refund_amount="45.905"))


def test_a_source_marker_decides_nothing() -> None:
    assert parse(detail(source="list")).requested_amount == Money(4590, "CNY")  # detail: fen


def test_a_speed_refund_may_be_first_seen_already_refunded() -> None:
    snap = parse(load("speed_refund_first_seen.json"))
    assert (snap.state, snap.platform_status) == (State.completed, "10")
    assert snap.refunded_amount == Money(1990, "CNY")
    assert snap.extra["speed_refund"] == "true"
    assert snap.deadline_at is None


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (2, State.requested), (3, State.requested), (14, State.requested), (21, State.requested),
        (4, State.refunding), (5, State.refunding),
        (6, State.rejected),
        (7, State.awaiting_return), (22, State.awaiting_return), (31, State.awaiting_return),
        (15, State.rejected), (33, State.return_in_transit),
        (8, State.disputed),
        (9, State.closed), (11, State.closed), (12, State.closed), (13, State.closed),
        (17, State.closed), (24, State.closed),
        (10, State.completed), (16, State.completed), (25, State.completed),
        (18, State.awaiting_reshipment), (27, State.awaiting_reshipment),
        (32, State.awaiting_reshipment),
    ],
)
def test_status_mapping(status: int, state: State) -> None:
    assert parse(detail(after_sales_status=status)).state is state


def test_15_is_awaiting_return_once_the_merchant_gave_an_exchange_address() -> None:
    agreed = load("detail_exchange_agreed.json")
    snap = parse(agreed)
    assert (snap.platform_status, snap.state) == ("15;merchant_agreed", State.awaiting_return)
    assert snap.type is CaseType.exchange
    del agreed["exchange_shipping_detail"]
    assert (parse(agreed).platform_status, parse(agreed).state) == ("15", State.rejected)


def test_33_awaiting_the_merchants_recall_is_accepted() -> None:
    snap = parse(detail(after_sales_status=33))  # 待商家召回 (pdd.refund.information.get)
    assert (snap.platform_status, snap.state) == ("33", State.return_in_transit)


@pytest.mark.parametrize("flags", [{"dispute_refund_status": 1}, {"join_or_not": "1"}])
def test_platform_involvement_makes_a_live_case_disputed(flags: dict[str, Any]) -> None:
    assert parse(detail(after_sales_status=6, **flags)).state is State.disputed
    assert parse(detail(after_sales_status=10, **flags)).state is State.completed


@pytest.mark.parametrize("status", [0, 1, 19, 99])
def test_an_unknown_status_is_named_with_its_value(status: int) -> None:
    with pytest.raises(PayloadError, match=rf"field 'after_sales_status' has unknown value {status}"):
        parse(detail(after_sales_status=status))


def test_expire_time_in_milliseconds_is_recognised() -> None:
    snap = parse(detail(expire_time=1741773600000))
    assert snap.deadline_at == datetime(2025, 3, 12, 10, 0, tzinfo=UTC)


def test_updated_time_may_be_a_china_time_string() -> None:
    assert parse(detail(updated_time="2025-03-10 18:00:00")).version // 100 == 1741600800000


@pytest.mark.parametrize("field", ["id", "order_sn", "after_sales_status", "refund_amount", "updated_time"])
def test_a_missing_required_field_is_named(field: str) -> None:
    payload = detail()
    del payload[field]
    with pytest.raises(PayloadError, match=rf"^pinduoduo: missing field '{field}'$"):
        parse(payload)


def test_float_amounts_are_refused_in_detail() -> None:
    expected = r"field 'refund_amount' must be an integer number of fen, got float"
    with pytest.raises(PayloadError, match=expected):
        parse(detail(refund_amount=45.9))
