"""AliExpress: aliexpress.issue.detail.get payloads, two currencies, solution states."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aftersales.adapters.platforms import PayloadError, adapter_for
from aftersales.domain.money import Money
from aftersales.domain.vocabulary import CaseType, Reason, State

FIXTURES = Path(__file__).parents[2] / "fixtures" / "platforms" / "aliexpress"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text("utf-8"))
    return data


def issue(solution: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(load("refund_wait_seller_accept.json")
                            ["aliexpress_issue_detail_get_response"]["result_object"])
    if solution is not None:
        payload["buyer_solution_list"]["solution_api_dto"][0].update(solution)
    payload.update(changes)
    return payload


parse = adapter_for("aliexpress").parse


def test_an_issue_maps_every_field() -> None:
    snap = parse(load("refund_wait_seller_accept.json"))
    assert snap.platform_case_id == "6346213853171470"
    assert snap.platform_order_id == "8194715118451470"  # the parent order
    assert snap.platform_status == "issue_status=processing;solution_status=wait_seller_accept"
    assert snap.state is State.requested
    assert snap.version // 100 == 1730118202000  # gmt_modified 2024-10-28 04:23:22 at UTC-8
    assert snap.type is CaseType.refund_only
    assert (snap.reason, snap.raw_reason) == (Reason.not_received, "Package not received")
    assert snap.buyer_id == "br1707754257vyrae"
    assert snap.description == "Item not received after 45 days"


def test_two_currencies_are_kept_apart() -> None:
    snap = parse(load("refund_wait_seller_accept.json"))
    assert snap.requested_amount == Money(40747, "BRL")  # local currency
    assert snap.extra["amount_usd_minor"] == "6665"
    assert snap.extra["amount_usd_currency"] == "USD"


def test_without_a_solution_the_issue_ceiling_gives_the_amounts() -> None:
    snap = parse(issue(buyer_solution_list={}))
    assert snap.requested_amount == Money(40747, "BRL")
    assert snap.extra["amount_usd_minor"] == "6665"
    assert (snap.state, snap.type) == (State.requested, None)


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("wait_seller_accept", State.requested),
        ("wait_buyer_accept", State.requested),
        ("wait_buyer_and_seller_accept", State.requested),
        ("buyer_refused", State.requested),
        ("seller_accept_and_buyer_refused", State.disputed),
        ("reach_cancle", State.disputed),
        ("reached", State.refunding),
        ("perform", State.refunding),
    ],
)
def test_solution_status_mapping_while_processing(status: str, state: State) -> None:
    snap = parse(issue({"status": status}))
    assert (snap.state, snap.platform_status) == (state, f"issue_status=processing;solution_status={status}")


def test_a_reached_return_waits_for_the_parcel_then_for_the_seller() -> None:
    snap = parse(load("return_reached.json"))
    assert (snap.state, snap.type) == (State.awaiting_return, CaseType.return_refund)
    assert snap.requested_amount == Money(12000, "EUR")
    assert snap.extra["amount_usd_minor"] == "12960"
    shipped = load("return_reached.json") | {"buyer_return_no": "LP00123456789012"}
    assert parse(shipped).state is State.return_in_transit


@pytest.mark.parametrize(("issue_status", "state"), [("finish", State.completed),
                                                     ("canceled_issue", State.closed)])
def test_issue_status_mapping(issue_status: str, state: State) -> None:
    assert parse(issue(issue_status=issue_status)).state is state


def test_a_platform_solution_means_arbitration() -> None:
    snap = parse(load("platform_arbitration.json"))
    assert snap.state is State.disputed


def test_finished_refund_reports_the_local_amount_as_paid() -> None:
    assert parse(issue({"status": "perform"}, issue_status="finish")).refunded_amount == Money(40747, "BRL")


def test_version_falls_back_to_the_newest_solution() -> None:
    payload = issue()
    del payload["gmt_modified"]
    assert parse(payload).version // 100 == 1730118202000


def test_an_unknown_issue_status_is_named() -> None:
    with pytest.raises(PayloadError, match=r"field 'issue_status' has unknown value 'escalated'"):
        parse(issue(issue_status="escalated"))


def test_an_unknown_solution_status_is_named_with_its_path() -> None:
    with pytest.raises(PayloadError, match=r"'buyer_solution_list.solution_api_dto\[0\].status' has unknown"):
        parse(issue({"status": "seller_thinking"}))


def test_a_currency_the_ledger_does_not_know_is_refused() -> None:
    with pytest.raises(PayloadError, match=r"refund_money' has an unsupported currency"):
        parse(issue({"refund_money_currency": "ZZZ"}))


def test_a_float_amount_is_refused() -> None:
    with pytest.raises(PayloadError, match=r"refund_money' must be a decimal string"):
        parse(issue({"refund_money": 407.47}))


@pytest.mark.parametrize("field", ["id", "order_id", "issue_status"])
def test_a_missing_required_field_is_named(field: str) -> None:
    payload = issue()
    del payload[field]
    payload.pop("parent_order_id")
    with pytest.raises(PayloadError, match=rf"^aliexpress: missing field '{field}'$"):
        parse(payload)


def test_a_documented_detail_in_summer_has_its_deadline_at_pdt() -> None:
    snap = parse(load("detail_timeout_summer.json"))  # the response shape of research B §3.5
    assert snap.deadline_at == datetime(2026, 6, 6, 15, 15, tzinfo=UTC)  # 08:15 PDT, not 16:15
    assert (snap.state, snap.requested_amount) == (State.requested, Money(225000, "RUB"))
    assert snap.extra["amount_usd_minor"] == "2500"


def test_timeout_trigger_time_is_los_angeles_time_with_daylight_saving() -> None:
    # aliexpress.issue.detail.get: timeout_trigger_time in America/Los_Angeles (research B §3.3)
    summer = parse(issue(timeout_type="WAIT_SOLUTION_TIMEOUT", timeout_trigger_time="2025-07-10 08:15:00"))
    assert summer.deadline_at == datetime(2025, 7, 10, 15, 15, tzinfo=UTC)  # PDT, UTC−07:00
    assert summer.extra["timeout_type"] == "WAIT_SOLUTION_TIMEOUT"
    winter = parse(issue(timeout_trigger_time="2025-12-10 08:15:00"))
    assert winter.deadline_at == datetime(2025, 12, 10, 16, 15, tzinfo=UTC)  # PST, UTC−08:00


def test_the_repeated_autumn_hour_takes_the_earlier_instant() -> None:
    snap = parse(issue(timeout_trigger_time="2025-11-02 01:30:00"))  # 01:30 happens twice
    assert snap.deadline_at == datetime(2025, 11, 2, 8, 30, tzinfo=UTC)  # the PDT one, earlier


def test_a_canceled_issue_maps_through_the_profiles_spelling() -> None:
    snap = parse(issue(issue_status="canceled_issue"))
    assert (snap.platform_status, snap.state) == ("issue_status=canceled_issue", State.closed)
