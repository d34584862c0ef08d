"""AliExpress issues (纠纷): the result_object of aliexpress.issue.detail.get.

Field names as the open API has them: id (the issue), order_id, parent_order_id,
issue_status (processing / canceled_issue / finish), issue_reason, buyer_login_id,
buyer_return_no, buyer_return_logistics_company, refund_money_max(_currency) (USD) and
refund_money_max_local(_currency), and the solution lists buyer_solution_list /
seller_solution_list / platform_solution_list {solution_api_dto: [{status,
solution_type, is_default, refund_money, refund_money_currency (local),
refund_money_post, refund_money_post_currency (USD), gmt_modified, content}]}.
`gmt_modified` comes with the issue list (aliexpress.issue.issuelist.get); merge it in.
Source: the TOP SDK models of aliexpress.issue.detail.get (SolutionApiDto enums).

Why these rules:
- An issue is a negotiation: its state is the state of the solution in force — the one
  reached or being performed, else the buyer's default proposal. wait_*_accept and
  buyer_refused → requested (still negotiating); reached → awaiting_return for a
  return_and_refund (return_in_transit once buyer_return_no is filled), refunding for a
  refund; perform → refunding; reach_cancle (seller escalated during the return) and
  seller_accept_and_buyer_refused → disputed. A platform solution not yet reached also
  means the platform is arbitrating → disputed. finish → completed,
  canceled_issue → closed.
- Amounts come in two currencies and must never be added (money.py): the local one is
  the requested amount, the USD one goes to extra["amount_usd_minor"] with
  extra["amount_usd_currency"]. Both are decimal strings parsed exactly.
- Times ("2024-10-28 04:23:19") carry no zone; they are read as UTC−08:00 (assumed, US
  Pacific standard time). A fixed offset keeps versions monotonic across DST; only
  their order matters. Without a top-level gmt_modified, the newest solution
  gmt_modified is the version.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta, timezone
from typing import Any

from aftersales.adapters.platforms.base import refunded_when_completed
from aftersales.adapters.platforms.fields import Fields, epoch_ms, unwrap
from aftersales.adapters.platforms.reasons import map_reason
from aftersales.domain.money import Money
from aftersales.domain.sync import PlatformSnapshot
from aftersales.domain.vocabulary import CaseType, State

AE_TIME = timezone(timedelta(hours=-8), "UTC-08:00")
_ISSUE = {"processing": None, "canceled_issue": State.closed, "finish": State.completed}
_SOLUTION: dict[str, State | None] = {
    "wait_seller_accept": State.requested,
    "wait_buyer_accept": State.requested,
    "wait_buyer_and_seller_accept": State.requested,
    "buyer_refused": State.requested,
    "seller_accept_and_buyer_refused": State.disputed,
    "reach_cancle": State.disputed,  # sic, as the API spells it
    "reached": None,  # depends on the solution type
    "perform": State.refunding,
}
_IN_FORCE = frozenset({"reached", "perform"})
_TYPES = {"refund": CaseType.refund_only, "return_and_refund": CaseType.return_refund}


class AliExpressAdapter:
    platform = "aliexpress"

    def order_key(self, payload: Mapping[str, Any]) -> str:
        """The platform's order id, as parse() reads it, without the rest of the parse."""
        return _order_id(self._fields(payload))

    def _fields(self, payload: Mapping[str, Any]) -> Fields:
        return Fields(self.platform, unwrap(
            payload, "aliexpress_issue_detail_get_response.result_object", "result_object"))

    def parse(self, payload: Mapping[str, Any]) -> PlatformSnapshot:
        f = self._fields(payload)
        issue_status = f.text("issue_status")
        if issue_status not in _ISSUE:
            raise f.unknown("issue_status", issue_status)
        lists = {owner: _solutions(f, owner) for owner in ("buyer", "seller", "platform")}
        every = [s for rows in lists.values() for s in rows]
        current = next((s for s in every if s.opt_text("status") in _IN_FORCE), None)
        current = current or next((s for s in lists["buyer"] if s.flag("is_default")), None)
        current = current or (lists["buyer"][0] if lists["buyer"] else None)

        case_type = None
        if current is not None and current.has("solution_type"):
            code = current.text("solution_type")
            if code not in _TYPES:
                raise current.unknown("solution_type", code)
            case_type = _TYPES[code]
        state, solution_status = _state(f, issue_status, current, bool(lists["platform"]), case_type)
        local, usd = _amounts(f, current)
        extra = {"issue_status": issue_status, "solution_status": solution_status}
        if usd is not None:
            extra |= {"amount_usd_minor": str(usd.amount), "amount_usd_currency": usd.currency}
        reason = f.opt_text("issue_reason") or f.opt_text("reason_chinese") or f.opt_text(
            "reason_english")
        return PlatformSnapshot(
            platform=self.platform,
            platform_case_id=f.text("issue_id") if f.has("issue_id") else f.text("id"),
            platform_order_id=_order_id(f),
            platform_status=f"{issue_status}/{solution_status}",
            state=state,
            version=_version(f, every),
            type=case_type,
            reason=map_reason(reason),
            requested_amount=local,
            refunded_amount=refunded_when_completed(state, case_type, local),
            buyer_id=f.opt_text("buyer_login_id"),
            description=current.opt_text("content") if current else None,
            return_carrier=f.opt_text("buyer_return_logistics_company"),
            return_waybill=f.opt_text("buyer_return_no"),
            raw_reason=reason,
            extra=extra,
        )


def _state(
    f: Fields, issue_status: str, current: Fields | None, platform_involved: bool,
    case_type: CaseType | None,
) -> tuple[State, str]:
    """The domain state, and the raw status of the solution in force ("-" if none)."""
    status = "-"
    if current is not None and current.has("status"):
        status = current.text("status")
        if status not in _SOLUTION:
            raise current.unknown("status", status)
    settled = _ISSUE[issue_status]
    if settled is not None:
        return settled, status
    if status == "reached":
        if case_type is not CaseType.return_refund:
            return State.refunding, status
        return (State.return_in_transit if f.has("buyer_return_no") else State.awaiting_return,
                status)
    if platform_involved and status not in _IN_FORCE:
        return State.disputed, status
    return _SOLUTION.get(status) or State.requested, status


def _solutions(f: Fields, owner: str) -> list[Fields]:
    holder = f.opt_sub(f"{owner}_solution_list")
    return holder.rows("solution_api_dto") if holder else []


def _amounts(f: Fields, current: Fields | None) -> tuple[Money | None, Money | None]:
    """(local, USD) from the solution in force, else the issue's refund ceiling."""
    if current is not None and current.has("refund_money"):
        return (current.major("refund_money", current.text("refund_money_currency")),
                _opt(current, "refund_money_post", "refund_money_post_currency"))
    return (_opt(f, "refund_money_max_local", "refund_money_max_local_currency"),
            _opt(f, "refund_money_max", "refund_money_max_currency"))


def _opt(f: Fields, amount: str, currency: str) -> Money | None:
    return f.major(amount, f.text(currency)) if f.has(amount) else None


def _version(f: Fields, solutions: list[Fields]) -> int:
    dated = [s for s in solutions if s.has("gmt_modified")]
    if f.has("gmt_modified") or not dated:  # (absent: the error names gmt_modified)
        return epoch_ms(f.local_time("gmt_modified", AE_TIME))
    return max(epoch_ms(s.local_time("gmt_modified", AE_TIME)) for s in dated)


def _order_id(f: Fields) -> str:
    """A split order's cases belong to the parent order."""
    return f.opt_text("parent_order_id") or f.text("order_id")
