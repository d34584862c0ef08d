"""Taobao / Tmall: taobao.refund.get payloads onto PlatformSnapshot."""

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

FIXTURES = Path(__file__).parents[2] / "fixtures" / "platforms" / "taobao"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text("utf-8"))
    return data


def refund(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(load("return_refund_wait_seller_agree.json")["refund_get_response"]["refund"])
    payload.update(changes)
    return payload


parse = adapter_for("taobao").parse


def test_a_return_request_maps_every_field() -> None:
    snap = parse(load("return_refund_wait_seller_agree.json"))  # with the response envelope
    assert snap.platform == "taobao"
    assert snap.platform_case_id == "206571839104827635"
    assert snap.platform_order_id == "2198765432109876543"
    assert (snap.platform_status, snap.state) == ("WAIT_SELLER_AGREE", State.requested)
    assert snap.version // 100 == 1741609800000
    assert snap.type is CaseType.return_refund
    assert (snap.reason, snap.raw_reason) == (Reason.quality_issue, "质量问题")
    assert snap.requested_amount == Money(12850, "CNY")  # "128.5": one decimal
    assert snap.refunded_amount is None
    assert snap.deadline_at == datetime(2025, 3, 15, 12, 30, tzinfo=UTC)  # 20:30 China time
    assert snap.buyer_id == "AAHkq3aQADgO4c8s9zNvUxYz"
    assert snap.description == "羽绒服拉链坏了，拉不上，申请退货退款"
    assert snap.lines == (SnapshotLine("2198765432109876544", "YRF-2024-W-BLK-M", 1),)
    assert snap.extra["total_fee_minor"] == "12850"


def test_an_unshipped_refund_only_request() -> None:
    snap = parse(load("refund_only_unshipped.json"))
    assert snap.type is CaseType.refund_only
    assert snap.reason is Reason.no_reason
    assert snap.requested_amount == Money(5990, "CNY")


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("WAIT_SELLER_AGREE", State.requested),
        ("WAIT_BUYER_RETURN_GOODS", State.awaiting_return),
        ("WAIT_SELLER_CONFIRM_GOODS", State.return_in_transit),
        ("SELLER_REFUSE_BUYER", State.rejected),
        ("WAIT_SELLER_CONSIGN_GOODS", State.awaiting_reshipment),
        ("CLOSED", State.closed),
        ("SUCCESS", State.completed),
    ],
)
def test_status_mapping(status: str, state: State) -> None:
    snap = parse(refund(status=status))
    assert (snap.state, snap.platform_status) == (state, status)


def test_success_reports_the_refund_as_paid() -> None:
    assert parse(refund(status="SUCCESS")).refunded_amount == Money(12850, "CNY")


@pytest.mark.parametrize("cs_status", [2, 3, 4, 5])
@pytest.mark.parametrize("status", ["WAIT_SELLER_AGREE", "SELLER_REFUSE_BUYER", "WAIT_SELLER_CONFIRM_GOODS"])
def test_customer_service_intervention_overrides_a_live_status(cs_status: int, status: str) -> None:
    snap = parse(refund(status=status, cs_status=cs_status))
    assert snap.state is State.disputed
    assert snap.platform_status == f"cs_status={cs_status}"
    assert snap.extra["refund_status"] == status  # the raw refund status is kept


@pytest.mark.parametrize("cs_status", [1, 6])
def test_no_or_finished_intervention_does_not_override(cs_status: int) -> None:
    assert parse(refund(status="SELLER_REFUSE_BUYER", cs_status=cs_status)).state is State.rejected


@pytest.mark.parametrize(("status", "state"), [("SUCCESS", State.completed), ("CLOSED", State.closed)])
def test_a_terminal_status_is_the_rulings_outcome_and_wins(status: str, state: State) -> None:
    assert parse(refund(status=status, cs_status=3)).state is state


def test_the_intervention_fixture_is_disputed_and_has_no_running_timer() -> None:
    snap = parse(load("seller_refused_cs_intervened.json"))
    assert snap.state is State.disputed
    assert snap.deadline_at is None  # exist_timeout false


def test_version_falls_back_to_modified_in_china_time() -> None:
    payload = refund()
    del payload["refund_version"]
    assert parse(payload).version // 100 == 1741609800000  # 2025-03-10 20:30:00 +08:00


def test_tmall_exchange_waits_for_the_replacement() -> None:
    payload = json.loads((FIXTURES.parent / "tmall" / "exchange_wait_seller_consign.json").read_text("utf-8"))
    snap = adapter_for("tmall").parse(payload)
    assert (snap.platform, snap.state) == ("tmall", State.awaiting_reshipment)
    assert snap.return_waybill == "SF1428765309812" and snap.return_carrier == "顺丰速运"


@pytest.mark.parametrize("field", ["refund_id", "tid", "status", "refund_fee"])
def test_a_missing_required_field_is_named(field: str) -> None:
    payload = refund()
    del payload[field]
    with pytest.raises(PayloadError, match=rf"^taobao: missing field '{field}'$"):
        parse(payload)


def test_missing_both_versions_names_refund_version() -> None:
    payload = refund()
    del payload["refund_version"], payload["modified"]
    with pytest.raises(PayloadError, match="missing field 'refund_version'"):
        parse(payload)


def test_an_unknown_status_is_named_with_its_value() -> None:
    with pytest.raises(PayloadError, match=r"field 'status' has unknown value 'WAIT_SOMETHING'"):
        parse(refund(status="WAIT_SOMETHING"))


@pytest.mark.parametrize("fee", ["12.505", "12,50", "abc"])
def test_bad_yuan_strings_are_refused(fee: str) -> None:
    with pytest.raises(PayloadError, match=r"field 'refund_fee' is not a valid CNY amount"):
        parse(refund(refund_fee=fee))


def test_a_float_refund_fee_is_refused() -> None:
    with pytest.raises(PayloadError, match=r"field 'refund_fee' must be a decimal string"):
        parse(refund(refund_fee=128.5))


def test_a_malformed_timeout_names_the_nested_field() -> None:
    bad = {"exist_timeout": True, "timeout": "2025/03/15 20:30"}
    with pytest.raises(PayloadError, match=r"field 'refund_remind_timeout.timeout' must be a time"):
        parse(refund(refund_remind_timeout=bad))


@pytest.mark.parametrize(("status", "state"), [
    ("WAIT_BUYER_CONFIRM_EXCHANGE_SELLER_SEND_GOODS", State.awaiting_reshipment),
    ("EXCHANGE_TRANSFORM_TO_REFUND", State.closed),
])
def test_the_exchange_statuses_of_the_refund_list_are_accepted(status: str, state: State) -> None:
    # taobao.refunds.receive.get `status` filter names them (research A §1.2)
    assert parse(refund(status=status)).state is state


def test_cs_status_10_the_evidence_phase_is_disputed() -> None:
    snap = parse(refund(cs_status=10))  # 举证中 (taobao.refund.get cs_status)
    assert (snap.state, snap.platform_status) == (State.disputed, "cs_status=10")


def test_the_detail_outranks_its_list_item_of_the_same_version() -> None:
    # taobao.refunds.receive.get items carry no refund_remind_timeout; taobao.refund.get does.
    detail = refund()
    listed = {k: v for k, v in detail.items() if k not in ("refund_remind_timeout", "cs_status")}
    assert parse(detail).version == parse(listed).version + 1
    assert parse(detail).deadline_at is not None and parse(listed).deadline_at is None


def test_a_tmall_exchange_object_is_accepted() -> None:
    # tmall.exchange.get: result.exchange (research A §1.6); status may be the Chinese label
    tmall = adapter_for("tmall").parse
    payload = json.loads((FIXTURES.parent / "tmall" / "exchange_object_to_ship.json").read_text("utf-8"))
    snap = tmall(payload)
    assert (snap.platform_case_id, snap.platform_order_id) == ("90123456789012345", "3345678901234567891")
    assert (snap.platform_status, snap.state) == ("exchange_status=12", State.awaiting_reshipment)
    assert snap.type is CaseType.exchange and snap.refunded_amount is None
    assert snap.requested_amount == Money(29900, "CNY")
    assert snap.deadline_at == datetime(2025, 4, 7, 2, 0, tzinfo=UTC)  # time_out, China time
    assert (snap.return_carrier, snap.return_waybill) == ("顺丰速运", "SF1428765309812")
    exchange = payload["tmall_exchange_get_response"]["result"]["exchange"]
    for code, state in [("1", State.requested), ("3", State.return_in_transit), (5, State.completed),
                        ("6", State.rejected), ("13", State.awaiting_reshipment), ("14", State.closed)]:
        assert tmall({**exchange, "status": code}).state is state
