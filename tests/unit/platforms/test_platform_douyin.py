"""Douyin: afterSale/List items (and their flattened form) onto PlatformSnapshot."""

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

FIXTURES = Path(__file__).parents[2] / "fixtures" / "platforms" / "douyin"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text("utf-8"))
    return data


def item(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(load("list_item_return_requested.json"))
    payload["aftersale_info"].update(changes)
    return payload


parse = adapter_for("douyin").parse


def test_a_list_item_maps_every_field() -> None:
    snap = parse(load("list_item_return_requested.json"))
    assert (snap.platform_case_id, snap.platform_order_id) == ("7345678901234567890", "6923456789012345678")
    assert (snap.platform_status, snap.state) == ("6", State.requested)
    assert snap.version // 100 == 1741593601000  # update_time seconds → ms
    assert snap.type is CaseType.return_refund
    assert (snap.reason, snap.raw_reason) == (Reason.no_reason, "七天无理由退货")
    assert snap.requested_amount == Money(15900, "CNY")
    assert snap.deadline_at == datetime(2025, 3, 12, 8, 0, 1, tzinfo=UTC)  # status_deadline
    assert snap.lines == (SnapshotLine("6923456789012345679", "TS-2024-BLK-L", 1),)


def test_the_flat_form_reads_order_id_and_reason() -> None:
    snap = parse(load("flat_refund_only.json"))
    assert snap.platform_order_id == "6923456789012300001"
    assert (snap.type, snap.reason) == (CaseType.refund_only, Reason.not_received)
    assert snap.lines == ()


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (6, State.requested),
        (7, State.awaiting_return),
        (8, State.awaiting_reshipment),
        (11, State.return_in_transit),
        (12, State.completed),
        (13, State.awaiting_reshipment),
        (14, State.completed),
        (27, State.rejected),
        (28, State.closed),
        (29, State.rejected),
        (3, State.awaiting_reshipment),
        (51, State.completed),
        (53, State.completed),
    ],
)
def test_status_mapping(status: int, state: State) -> None:
    snap = parse(item(aftersale_status=status))
    assert (snap.state, snap.platform_status) == (state, str(status))


@pytest.mark.parametrize("arbitrate", [1, 4, 5])
@pytest.mark.parametrize("status", [6, 11, 27, 29])
def test_arbitration_overrides_a_live_status(arbitrate: int, status: int) -> None:
    snap = parse(item(aftersale_status=status, arbitrate_status=arbitrate))
    assert (snap.state, snap.platform_status) == (State.disputed, f"arbitrate_status={arbitrate}")
    assert snap.extra["aftersale_status"] == str(status)


@pytest.mark.parametrize("arbitrate", [0, 2, 3, 255])
def test_no_or_finished_arbitration_does_not_override(arbitrate: int) -> None:
    assert parse(item(aftersale_status=27, arbitrate_status=arbitrate)).state is State.rejected


def test_a_ruling_that_ended_the_case_wins_over_the_arbitration_flag() -> None:
    assert parse(item(aftersale_status=28, arbitrate_status=1)).state is State.closed


def test_the_arbitration_fixture_is_disputed() -> None:
    assert parse(load("rejected_in_arbitration.json")).state is State.disputed


@pytest.mark.parametrize(
    ("code", "case_type"),
    [(0, CaseType.return_refund), (1, CaseType.refund_only), (2, CaseType.refund_only),
     (3, CaseType.exchange), (6, CaseType.compensation), (7, CaseType.reissue), (8, None)],
)
def test_aftersale_type_mapping(code: int, case_type: CaseType | None) -> None:
    assert parse(item(aftersale_type=code)).type is case_type


def test_zero_status_deadline_means_none() -> None:
    assert parse(item(status_deadline=0)).deadline_at is None


def test_success_reports_the_refund_as_paid() -> None:
    assert parse(item(aftersale_status=12)).refunded_amount == Money(15900, "CNY")


@pytest.mark.parametrize("field", ["aftersale_id", "aftersale_status", "refund_amount", "update_time"])
def test_a_missing_required_field_is_named_with_its_path(field: str) -> None:
    payload = item()
    del payload["aftersale_info"][field]
    with pytest.raises(PayloadError, match=rf"^douyin: missing field 'aftersale_info.{field}'$"):
        parse(payload)


def test_a_missing_order_id_is_named() -> None:
    payload = load("flat_refund_only.json")
    del payload["order_id"]
    with pytest.raises(PayloadError, match=r"missing field 'order_id'"):
        parse(payload)


def test_an_unknown_status_is_named_with_its_value() -> None:
    with pytest.raises(PayloadError, match=r"field 'aftersale_info.aftersale_status' has unknown value 99"):
        parse(item(aftersale_status=99))


def test_a_float_amount_is_refused() -> None:
    expected = r"'aftersale_info.refund_amount' must be an integer number of fen"
    with pytest.raises(PayloadError, match=expected):
        parse(item(refund_amount=159.0))


def test_a_fractional_item_count_is_refused() -> None:
    payload = item()
    payload["order_info"]["related_order_info"][0]["aftersale_item_num"] = 1.5
    with pytest.raises(PayloadError, match=r"'order_info.related_order_info\[0\].aftersale_item_num'"):
        parse(payload)


def test_an_after_sale_detail_response_is_read_in_its_own_spelling() -> None:
    # afterSale/Detail (research A §2.4/§2.8): process_info.after_sale_info, a Number id
    snap = parse(load("detail_return_shipped.json"))
    assert (snap.platform_case_id, snap.platform_order_id) == ("7301234567890123456", "6931234567890123455")
    assert (snap.platform_status, snap.state) == ("11", State.return_in_transit)
    assert snap.type is CaseType.return_refund
    assert snap.requested_amount == Money(4590, "CNY")  # refund_total_amount, fen
    assert snap.deadline_at == datetime(2025, 12, 5, 1, 23, 20, tzinfo=UTC)  # status_deadline
    assert (snap.return_carrier, snap.return_waybill) == ("中通快递", "78123456789012")
    assert snap.version // 100 == 1764293000000


def test_the_detail_outranks_its_list_item_at_the_same_update_time() -> None:
    listed = parse(load("list_item_return_requested.json"))
    payload = load("list_item_return_requested.json")
    assert parse(payload).version == listed.version
    detail = load("detail_return_shipped.json")
    info = detail["data"]["process_info"]["after_sale_info"]
    info.update(after_sale_status=6, update_time=payload["aftersale_info"]["update_time"])
    assert parse(detail).version == listed.version + 1


@pytest.mark.parametrize(("status", "state"), [(3, State.awaiting_reshipment), (51, State.completed),
                                               (53, State.completed)])
def test_list_only_and_detail_only_statuses(status: int, state: State) -> None:
    payload = load("detail_return_shipped.json")
    payload["data"]["process_info"]["after_sale_info"]["after_sale_status"] = status
    assert parse(payload).state is state


def test_a_failed_refund_and_a_speed_refund_are_signalled() -> None:
    payload = load("list_item_return_requested.json")
    payload["aftersale_info"].update(refund_status=4, refund_type=1)
    snap = parse(payload)
    assert (snap.extra["refund_failed"], snap.extra["speed_refund"]) == ("true", "true")
