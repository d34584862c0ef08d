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
- timeout_type / timeout_trigger_time is AliExpress's own deadline for the current step,
  documented (SDK model of aliexpress.issue.detail.get) as America/Los_Angeles time: read
  with the tz database (zoneinfo), so summer (PDT, UTC−07:00) and winter (PST, UTC−08:00)
  both land on the right instant. In the repeated autumn hour the earlier instant is taken
  (a deadline may come out early, never late: PLATFORMS.md principle 2).
- gmt_create / gmt_modified ("2024-10-28 04:23:19") carry no documented zone; they only
  order versions, read at a fixed UTC−08:00 so the order stays monotonic across DST.
  Without a top-level gmt_modified, the newest solution gmt_modified is the version.
- Statuses: the raw status is composed of parts the profile's status_map reads (the one
  table the HTTP sync uses too): "issue_status=finish" / "issue_status=canceled_issue"
  when the issue is settled; else "issue_status=processing", then
  "solution_status=<status of the solution in force>", then "return=awaiting" /
  "return=shipped" for a reached return_and_refund, or "platform_solution=pending" when
  the platform proposed a solution not yet reached.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from aftersales.adapters.platforms.base import flow_version, refunded_when_completed, state_of
from aftersales.adapters.platforms.fields import Fields, epoch_ms, unwrap
from aftersales.adapters.platforms.reasons import map_reason
from aftersales.domain.money import Money
from aftersales.domain.sync import PlatformSnapshot
from aftersales.domain.vocabulary import CaseType

AE_TIME = timezone(timedelta(hours=-8), "UTC-08:00")  # versions only: order, not instants
LOS_ANGELES = ZoneInfo("America/Los_Angeles")  # timeout_trigger_time (SDK doc)
_ISSUE = frozenset({"processing", "canceled_issue", "finish"})
_SOLUTION = frozenset({
    "wait_seller_accept", "wait_buyer_accept", "wait_buyer_and_seller_accept", "buyer_refused",
    "seller_accept_and_buyer_refused", "reach_cancle",  # sic, as the API spells it
    "reached", "perform",
})
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
        raw_status, solution_status = _raw_status(
            f, issue_status, current, bool(lists["platform"]), case_type)
        state = state_of(self.platform, raw_status, "issue_status")
        local, usd = _amounts(f, current)
        extra = {"issue_status": issue_status, "solution_status": solution_status}
        if f.has("timeout_type"):
            extra["timeout_type"] = f.text("timeout_type")
        if usd is not None:
            extra |= {"amount_usd_minor": str(usd.amount), "amount_usd_currency": usd.currency}
        reason = f.opt_text("issue_reason") or f.opt_text("reason_chinese") or f.opt_text(
            "reason_english")
        return PlatformSnapshot(
            platform=self.platform,
            platform_case_id=f.text("issue_id") if f.has("issue_id") else f.text("id"),
            platform_order_id=_order_id(f),
            platform_status=raw_status,
            state=state,
            version=flow_version(_version(f, every), state),
            type=case_type,
            reason=map_reason(reason),
            requested_amount=local,
            refunded_amount=refunded_when_completed(state, case_type, local),
            deadline_at=_deadline(f),
            buyer_id=f.opt_text("buyer_login_id"),
            description=current.opt_text("content") if current else None,
            return_carrier=f.opt_text("buyer_return_logistics_company"),
            return_waybill=f.opt_text("buyer_return_no"),
            raw_reason=reason,
            extra=extra,
        )


def _raw_status(
    f: Fields, issue_status: str, current: Fields | None, platform_involved: bool,
    case_type: CaseType | None,
) -> tuple[str, str]:
    """The composite raw status the status_map reads, and the solution's status ("-")."""
    status = "-"
    if current is not None and current.has("status"):
        status = current.text("status")
        if status not in _SOLUTION:
            raise current.unknown("status", status)
    if issue_status != "processing":
        return f"issue_status={issue_status}", status
    parts = ["issue_status=processing"]
    if status != "-":
        parts.append(f"solution_status={status}")
    if status == "reached" and case_type is CaseType.return_refund:
        parts.append("return=shipped" if f.has("buyer_return_no") else "return=awaiting")
    elif platform_involved and status not in _IN_FORCE:
        parts.append("platform_solution=pending")
    return ";".join(parts), status


def _deadline(f: Fields) -> datetime | None:
    """timeout_trigger_time: America/Los_Angeles wall time (aliexpress.issue.detail.get)."""
    if not f.has("timeout_trigger_time"):
        return None
    return f.local_time("timeout_trigger_time", LOS_ANGELES)


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
