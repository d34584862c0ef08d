"""The after-sales case (售后单): one buyer request about one order, and its life.

`act` is the only way a case changes state: it finds the row of the transition table,
checks the row's guard, applies the action's effect and appends one event. `fire_deadline`
performs a platform's automatic outcome through the same path, as actor `system`, after
re-checking that the deadline still applies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aftersales.domain import transitions
from aftersales.domain.deadlines import current_deadline
from aftersales.domain.errors import InvalidInput, RuleRefused
from aftersales.domain.events import SYSTEM, Actor, Event
from aftersales.domain.guards import GUARDS
from aftersales.domain.merchant_policy import MerchantPolicy
from aftersales.domain.money import Money
from aftersales.domain.orders import Order
from aftersales.domain.profile import Profile
from aftersales.domain.vocabulary import (
    TERMINAL_STATES,
    CaseType,
    Condition,
    Reason,
    RefundMethod,
    State,
)


@dataclass(frozen=True, slots=True)
class CaseLine:
    line_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Offer:
    amount: Money
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Inspection:
    verdict: str  # accept | refuse
    condition: Condition
    sku_matches: bool
    accessories_complete: bool
    gifts_returned: bool
    tags_intact: bool = True
    seal_intact: bool = True
    packaging_only_flaw: bool = False  # the only flaw is the paper bag or box
    quality_problem_found: bool | None = None
    note: str | None = None
    dispositions: Mapping[str, str] = field(default_factory=dict)  # line_id → disposition


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """The body of any action (API.md table); each action reads the fields it needs."""

    amount: Money | None = None
    refund_method: RefundMethod | None = None
    note: str | None = None
    reason_code: str | None = None
    explanation: str | None = None
    carrier: str | None = None
    waybill: str | None = None
    prepaid: bool | None = None
    inspection: Inspection | None = None
    statement: str | None = None
    in_favor_of: str | None = None
    reference: str | None = None
    return_freight: Money | None = None  # what the buyer paid to send the return


@dataclass(frozen=True, slots=True)
class CaseContext:
    """What the case needs to know about its world to decide; the service assembles it."""

    order: Order
    profile: Profile
    refundable: Money  # for the case's lines, minus what was already refunded
    offline_pending: bool = False
    # the outbound freight a full refund of the case pays back (refunds.outbound_due):
    # an approved amount is the total the buyer gets back, goods and this freight together
    freight_due: Money | None = None
    timezone: str = "Asia/Shanghai"
    policy: MerchantPolicy = field(default_factory=MerchantPolicy)


@dataclass(eq=False)
class Case:
    id: str
    shop_id: str
    order_id: str
    buyer_id: str
    type: CaseType
    reason: Reason
    lines: tuple[CaseLine, ...]
    requested_amount: Money
    opened_at: datetime
    profile_id: str
    profile_version: str
    refund_method: RefundMethod = RefundMethod.original
    description: str = ""
    state: State = State.requested
    state_entered_at: datetime | None = None
    state_seq: int = 0
    approved_amount: Money | None = None
    offer: Offer | None = None
    overdue: bool = False
    fired: set[str] = field(default_factory=set)
    received_at: datetime | None = None
    return_carrier: str | None = None
    return_waybill: str | None = None
    return_prepaid: bool | None = None
    return_freight: Money | None = None
    reship_carrier: str | None = None
    reship_waybill: str | None = None
    inspection: Inspection | None = None
    buyer_refused_delivery: bool = False
    resubmissions: int = 0
    platform_case_id: str | None = None
    platform_status: str | None = None
    platform_version: int | None = None
    platform_deadline_at: datetime | None = None
    platform_deadline_seq: int | None = None
    rating: int | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    version: int = 0
    events: list[Event] = field(default_factory=list)  # appended since the case was loaded
    event_base: int = 0  # events stored before this copy was loaded (numbering continues)
    events_saved: int = 0  # how many of `events` storage has written

    def __post_init__(self) -> None:
        if self.state_entered_at is None:
            self.state_entered_at = self.opened_at
        if not self.lines and self.type is not CaseType.compensation:
            raise InvalidInput("a case names at least one order line", code="no_lines")

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def currency(self) -> str:
        return self.requested_amount.currency

    def act(self, action: str, actor: Actor, now: datetime, ctx: CaseContext,
            request: ActionRequest | None = None, explanation: str | None = None,
            reason_code: str | None = None) -> Event:
        """Take one action; raises InvalidTransition, Forbidden, RuleRefused or InvalidInput."""
        req = request or ActionRequest()
        branch = _branch(action, req)
        row = transitions.find(self.state, action, self.type, branch, actor.role)
        if row.guard:
            GUARDS[row.guard](self, ctx, now)
        effect = EFFECTS.get(action)
        default_text = effect(self, req, ctx, now) if effect else None
        text = explanation or default_text or action
        return self._move(row, actor, now, text, reason_code or req.reason_code, req)

    def fire_deadline(self, key: str, now: datetime, ctx: CaseContext) -> Event | None:
        """Perform an expired deadline's outcome, if it still applies; otherwise nothing."""
        deadline = current_deadline(self, ctx.order, ctx.profile)
        if deadline is None or deadline.key != key or now < deadline.at:
            return None
        action = transitions.OUTCOME_ACTIONS[deadline.outcome]
        text = f"{deadline.explanation_en} / {deadline.explanation_zh} [{deadline.rule}]"
        event = self.act(action, SYSTEM, now, ctx, explanation=text, reason_code=deadline.rule)
        self.fired.add(key)  # only once it did fire: a refused outcome leaves the case as it was
        return event

    def mark_deadline_failed(self, key: str, now: datetime, reason: str) -> Event:
        """The outcome could not be performed: never retried, and the case shows as overdue
        so an agent sees it at the top of the queue instead of a deadline that never fires."""
        self.fired.add(key)
        self.overdue = True
        return self.record("deadline_failed", SYSTEM, now, reason)

    def _move(self, row: transitions.Transition, actor: Actor, now: datetime, text: str,
              reason_code: str | None, req: ActionRequest) -> Event:
        before = self.state
        # Only a change of state restarts the clock: a counter-offer or a declined offer keeps
        # the case in `requested` under the deadline it already had (a platform-sent one
        # included) — PLATFORMS.md principle 1; a merchant cannot buy time with an offer.
        if row.target != before:
            self.state_seq += 1
            self.state_entered_at = now
            if before is State.requested:
                self.offer = None  # an offer never outlives the request it answered
        self.state = row.target
        event = Event(at=now, actor=str(actor), kind=row.kind or row.action, from_state=before,
                      to_state=row.target, explanation=text, reason_code=reason_code,
                      data=_event_data(req))
        self.events.append(event)
        return event

    def record(self, kind: str, actor: Actor, now: datetime, explanation: str,
               data: dict[str, Any] | None = None) -> Event:
        """An event that changes no state: opened, message, evidence, platform sync…"""
        event = Event(at=now, actor=str(actor), kind=kind, from_state=self.state,
                      to_state=self.state, explanation=explanation, data=data or {})
        self.events.append(event)
        return event

    def force_state(self, state: State, actor: Actor, now: datetime, explanation: str) -> Event:
        """Mirror a state the platform reports (a sync): the platform is the authority."""
        before = self.state
        if state != before:
            self.state, self.state_seq, self.state_entered_at = state, self.state_seq + 1, now
        event = Event(at=now, actor=str(actor), kind="platform_sync", from_state=before,
                      to_state=state, explanation=explanation)
        self.events.append(event)
        return event


def _branch(action: str, req: ActionRequest) -> str | None:
    if action == "receive":
        return "cod" if req.prepaid is False else "prepaid"
    if action == "inspect":
        if req.inspection is None or req.inspection.verdict not in ("accept", "refuse"):
            raise InvalidInput("inspect needs a verdict: accept or refuse", code="invalid_verdict")
        return req.inspection.verdict
    if action == "rule":
        if req.in_favor_of not in ("buyer", "merchant"):
            raise InvalidInput("rule needs in_favor_of: buyer or merchant", code="invalid_ruling")
        return req.in_favor_of
    return None


def _event_data(req: ActionRequest) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in ("note", "carrier", "waybill", "prepaid", "statement", "in_favor_of", "reference"):
        value = getattr(req, name)
        if value is not None:
            data[name] = value
    for name in ("amount", "return_freight"):
        money = getattr(req, name)
        if money is not None:
            data[name] = money.to_dict()
    return data


# --- effects: what each action records on the case --------------------------------------

def _full(case: Case, ctx: CaseContext) -> Money:
    """The buyer's amount as far as it is still refundable, with the outbound freight a
    full refund pays back: what an approval without an amount pays in total."""
    freight = ctx.freight_due or Money.zero(case.currency)
    return case.requested_amount.min(ctx.refundable) + freight


def _limit(case: Case, ctx: CaseContext) -> Money:
    return ctx.refundable + (ctx.freight_due or Money.zero(case.currency))


def _amount_within(case: Case, amount: Money | None, ctx: CaseContext) -> Money:
    """An approved (or offered) amount is the total the buyer receives (docs/decisions.md
    "Approved is paid"): at most the goods still refundable plus the freight due."""
    if amount is None:
        return _full(case, ctx)
    value = amount
    if value.currency != case.currency:
        raise InvalidInput(f"amount must be in {case.currency}", code="currency_mismatch")
    if value.amount < 0:
        raise InvalidInput("amount cannot be negative", code="invalid_amount")
    limit = _limit(case, ctx)
    if value > limit:
        raise RuleRefused(f"{value.format()} exceeds what is still refundable "
                          f"({limit.format()})", code="amount_exceeds_refundable")
    return value


def _approve(case: Case, req: ActionRequest, ctx: CaseContext, now: datetime) -> str:
    if case.type is CaseType.reissue:
        case.approved_amount = Money.zero(case.currency)
    else:
        case.approved_amount = _amount_within(case, req.amount, ctx)
    if req.refund_method:
        case.refund_method = req.refund_method
    return req.note or "approved"


def _auto_refund(case: Case, req: ActionRequest, ctx: CaseContext, now: datetime) -> str:
    case.approved_amount = _full(case, ctx)
    return "refunded at the buyer's requested amount"


def _reject(case: Case, req: ActionRequest, ctx: CaseContext, now: datetime) -> str:
    if not req.reason_code or not req.explanation:
        raise InvalidInput("a rejection needs reason_code and explanation", code="explanation_required")
    return req.explanation


def _counter_offer(case: Case, req: ActionRequest, ctx: CaseContext, now: datetime) -> str:
    if req.amount is None or req.amount.amount <= 0:
        raise InvalidInput("a counter-offer needs a positive amount", code="invalid_amount")
    case.offer = Offer(_amount_within(case, req.amount, ctx), req.note)
    return f"counter-offer of {req.amount.format()}" + (f": {req.note}" if req.note else "")


def _accept_offer(case: Case, req: ActionRequest, ctx: CaseContext, now: datetime) -> str:
    assert case.offer is not None
    case.approved_amount = case.offer.amount.min(_limit(case, ctx))
    case.offer = None
    return "buyer accepted the counter-offer"


def _decline_offer(case: Case, req: ActionRequest, ctx: CaseContext, now: datetime) -> str:
    case.offer = None
    return "buyer declined the counter-offer"


def _ship_return(case: Case, req: ActionRequest, ctx: CaseContext, now: datetime) -> str:
    if not req.carrier or not req.waybill:
        raise InvalidInput("ship_return needs carrier and waybill", code="waybill_required")
    case.return_carrier, case.return_waybill = req.carrier.strip(), req.waybill.strip()
    case.return_prepaid = req.prepaid if req.prepaid is not None else True
    if req.return_freight is not None and req.return_freight.amount < 0:
        raise InvalidInput("return freight cannot be negative", code="invalid_amount")
    case.return_freight = req.return_freight
    return f"buyer shipped the return: {case.return_carrier} {case.return_waybill}"


def _receive(case: Case, req: ActionRequest, ctx: CaseContext, now: datetime) -> str:
    if req.prepaid is False:
        return ("cash-on-delivery (到付) parcel refused at the warehouse; the buyer must send "
                "it prepaid")
    case.received_at = now
    return "return parcel received"


def _confirm_receipt(case: Case, req: ActionRequest, ctx: CaseContext, now: datetime) -> str:
    case.received_at = case.received_at or now
    return "receipt confirmed"


def _inspect(case: Case, req: ActionRequest, ctx: CaseContext, now: datetime) -> str:
    assert req.inspection is not None
    if req.inspection.verdict == "refuse" and not (req.inspection.note or req.note):
        raise InvalidInput("refusing at inspection needs a note", code="explanation_required")
    case.inspection = req.inspection
    return req.inspection.note or req.note or f"inspection: {req.inspection.verdict}"


def _reship(case: Case, req: ActionRequest, ctx: CaseContext, now: datetime) -> str:
    if not req.carrier or not req.waybill:
        raise InvalidInput("reship needs carrier and waybill", code="waybill_required")
    case.reship_carrier, case.reship_waybill = req.carrier.strip(), req.waybill.strip()
    return f"replacement shipped: {case.reship_carrier} {case.reship_waybill}"


def _ship_order(case: Case, req: ActionRequest, ctx: CaseContext, now: datetime) -> str:
    if not req.carrier or not req.waybill:
        raise InvalidInput("ship_order needs carrier and waybill", code="waybill_required")
    return (f"order shipped in time ({req.carrier.strip()} {req.waybill.strip()}): "
            "the unshipped refund-only request closes")


def _escalate(case: Case, req: ActionRequest, ctx: CaseContext, now: datetime) -> str:
    if not req.statement or not req.statement.strip():
        raise InvalidInput("escalation needs a statement", code="statement_required")
    return req.statement


def _rule(case: Case, req: ActionRequest, ctx: CaseContext, now: datetime) -> str:
    if req.in_favor_of == "buyer":
        case.approved_amount = _amount_within(case, req.amount, ctx)
        return "platform ruled for the buyer"
    return "platform ruled for the merchant"


def _mark_refunded(case: Case, req: ActionRequest, ctx: CaseContext, now: datetime) -> str:
    if not req.reference or not req.reference.strip():
        raise InvalidInput("an offline refund needs a reference", code="reference_required")
    return f"offline refund recorded: {req.reference}"


def _resubmit(case: Case, req: ActionRequest, ctx: CaseContext, now: datetime) -> str:
    if req.amount is not None:  # checked before anything changes
        case.requested_amount = _amount_within(case, req.amount, ctx)
    case.resubmissions += 1
    return req.note or "buyer resubmitted the request"


def _flag_overdue(case: Case, req: ActionRequest, ctx: CaseContext, now: datetime) -> str:
    case.overdue = True
    return "deadline passed: marked overdue"


def _give_up_goods(case: Case, req: ActionRequest, ctx: CaseContext, now: datetime) -> str:
    if case.approved_amount is None:
        case.approved_amount = _full(case, ctx)
    return "merchant refunds without waiting for the goods"


Effect = Callable[[Case, ActionRequest, CaseContext, datetime], str]
EFFECTS: dict[str, Effect] = {
    "approve": _approve, "auto_refund": _auto_refund, "reject": _reject,
    "counter_offer": _counter_offer, "accept_offer": _accept_offer,
    "decline_offer": _decline_offer, "ship_return": _ship_return, "receive": _receive,
    "confirm_receipt": _confirm_receipt, "inspect": _inspect, "reship": _reship,
    "ship_order": _ship_order,
    "escalate": _escalate, "rule": _rule, "mark_refunded": _mark_refunded,
    "resubmit": _resubmit, "flag_overdue": _flag_overdue, "give_up_goods": _give_up_goods,
}
