"""Random action sequences through every platform profile (Hypothesis state machine).

Each step takes a random action of transitions.ALL_ACTIONS with a plausible random body as a
random role (wrong ones included), moves the clock, or fires a deadline (the current one, or
an old key again). After every step the invariants of DOMAIN.md hold:

- money: an approved amount, an offer and a refund plan never exceed what was paid for the
  lines minus what was refunded (DOMAIN.md Money rules);
- terminal states stay terminal (DOMAIN.md States);
- every successful action appended exactly one event whose from/to match the move, and the
  log chains (DOMAIN.md States: the event log is append-only);
- a deadline key never fires twice, and a stale key changes nothing (PLATFORMS.md outcomes);
- state_seq only grows;
- a refused action (any DomainError) leaves every field of the case as it was.
"""

from __future__ import annotations

import itertools
import os
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from aftersales.domain.case import ActionRequest, Case, CaseContext, CaseLine, Inspection
from aftersales.domain.deadlines import current_deadline
from aftersales.domain.errors import DomainError
from aftersales.domain.events import Actor, Event
from aftersales.domain.merchant_policy import MerchantPolicy
from aftersales.domain.money import Money
from aftersales.domain.orders import Order
from aftersales.domain.profile import Profile
from aftersales.domain.refunds import RefundInput, line_share, order_left, plan_refund, refundable
from aftersales.domain.transitions import ALL_ACTIONS, TABLE, allowed_actions
from aftersales.domain.vocabulary import (
    TERMINAL_STATES,
    CaseType,
    Condition,
    Reason,
    RefundMethod,
    Role,
    State,
)

from .factories import T0, all_profiles, bundled_profiles, cny, d, extra, make_line, make_order, snapshot

EXAMPLES = int(os.environ.get("AFTERSALES_STATEFUL_EXAMPLES", "30"))
STEPS = int(os.environ.get("AFTERSALES_STATEFUL_STEPS", "30"))

money = st.one_of(
    st.none(),
    st.integers(-100, 15000).map(cny),
    st.just(Money(500, "USD")),
)
inspections = st.builds(
    Inspection,
    verdict=st.sampled_from(["accept", "accept", "refuse", "refuse", "bogus"]),
    condition=st.sampled_from(list(Condition)),
    sku_matches=st.booleans(), accessories_complete=st.booleans(), gifts_returned=st.booleans(),
    tags_intact=st.booleans(), seal_intact=st.booleans(), packaging_only_flaw=st.booleans(),
    quality_problem_found=st.sampled_from([None, True, False]),
    note=st.sampled_from([None, "worn", ""]),
)
# What each action reads from its body (API.md action table), each field mostly valid.
FIELDS: dict[str, st.SearchStrategy[object]] = {
    "amount": money,
    "refund_method": st.one_of(st.none(), st.sampled_from(list(RefundMethod))),
    "note": st.sampled_from([None, "note"]),
    "reason_code": st.sampled_from([None, "policy", "policy", ""]),
    "explanation": st.sampled_from([None, "because", "because"]),
    "carrier": st.sampled_from([None, "SF", "SF", " "]),
    "waybill": st.sampled_from([None, "SF123", "SF123", ""]),
    "prepaid": st.sampled_from([None, True, True, False]),
    "inspection": st.one_of(st.none(), inspections, inspections),
    "statement": st.sampled_from([None, "please help", "please help", "  "]),
    "in_favor_of": st.sampled_from([None, "buyer", "merchant", "judge"]),
    "reference": st.sampled_from([None, "BANK-1", " "]),
    "return_freight": st.one_of(st.none(), st.integers(0, 3000).map(cny)),
}
READS: dict[str, tuple[str, ...]] = {
    "approve": ("amount", "refund_method", "note"),
    "reject": ("reason_code", "explanation"),
    "counter_offer": ("amount", "note"),
    "ship_return": ("carrier", "waybill", "prepaid", "return_freight"),
    "receive": ("prepaid", "carrier", "waybill"),
    "inspect": ("inspection", "note"),
    "reship": ("carrier", "waybill"),
    "escalate": ("statement",),
    "rule": ("in_favor_of", "amount"),
    "mark_refunded": ("reference",),
    "resubmit": ("amount", "note"),
}


def body_for(action: str) -> st.SearchStrategy[ActionRequest]:
    fields = {name: FIELDS[name] for name in READS.get(action, ())}
    return st.fixed_dictionaries(fields).map(lambda kw: ActionRequest(**kw))  # type: ignore[arg-type]


WARM_PATHS: dict[str, list[tuple[str, Actor, ActionRequest]]] = {
    "forward": [
        ("approve", Actor(Role.agent, "a1"), ActionRequest()),
        ("ship_return", Actor(Role.buyer), ActionRequest(carrier="SF", waybill="SF1", prepaid=True)),
        ("receive", Actor(Role.warehouse, "w1"), ActionRequest(prepaid=True)),
        ("inspect", Actor(Role.warehouse, "w1"), ActionRequest(
            inspection=Inspection("accept", Condition.new, True, True, True))),
    ],
    "reject": [
        ("reject", Actor(Role.agent, "a1"), ActionRequest(reason_code="policy", explanation="no")),
        ("escalate", Actor(Role.buyer), ActionRequest(statement="please help")),
    ],
}


def _order(shipped: bool, delivered: bool, completed: bool) -> Order:
    lines = [make_line("L1", unit_price=5000, quantity=2, paid=9000, category="apparel",
                       gifts=[extra("gift", 700)], accessories=[extra("dust bag", 300)]),
             make_line("L2", unit_price=3000, quantity=1, paid=3000, category="electronics")]
    return make_order(
        lines, freight=1000,
        shipped_at=T0 - d(6) if shipped or delivered else None,
        delivered_at=T0 - d(3) if delivered else None,
        completed_at=T0 - d(1) if delivered and completed else None,
    )


class CaseMachine(RuleBasedStateMachine):
    profile: Profile

    def __init__(self) -> None:
        super().__init__()
        self.case: Case
        self.ctx: CaseContext
        self.now = T0
        self.fired: set[str] = set()
        self.seen_keys: set[str] = set()
        self.last_seq = 0
        self.terminal: State | None = None
        self.paid_for_lines = cny(0)

    @initialize(
        case_type=st.sampled_from([*CaseType, CaseType.return_refund, CaseType.exchange]),
        reason=st.sampled_from(list(Reason)),
        shipped=st.booleans(), delivered=st.booleans(), completed=st.booleans(),
        which=st.sampled_from(["L1", "L2", "both"]), qty=st.integers(1, 2),
        prior=st.integers(0, 9000), requested=st.integers(0, 14000),
        refused_delivery=st.booleans(), offline=st.booleans(),
        warm=st.sampled_from(["forward", "reject"]), depth=st.integers(0, 4),
    )
    def open_case(self, case_type: CaseType, reason: Reason, shipped: bool, delivered: bool,
                  completed: bool, which: str, qty: int, prior: int, requested: int,
                  refused_delivery: bool, offline: bool, warm: str, depth: int) -> None:
        order = _order(shipped, delivered, completed)
        chosen = {"L1": [("L1", qty)], "L2": [("L2", 1)], "both": [("L1", qty), ("L2", 1)]}[which]
        refunded_line = {"L1": cny(prior)}
        left = refundable(order, chosen, refunded_line, cny(prior))
        self.paid_for_lines = sum((line_share(order.line(lid), q) for lid, q in chosen), cny(0))
        self.case = Case(
            id="C1", shop_id="S1", order_id=order.id, buyer_id=order.buyer_id, type=case_type,
            reason=reason, lines=tuple(CaseLine(lid, q) for lid, q in chosen),
            requested_amount=cny(min(requested, left.amount)), opened_at=T0,
            profile_id=self.profile.id, profile_version=self.profile.version,
            buyer_refused_delivery=refused_delivery,
        )
        self.ctx = CaseContext(order=order, profile=self.profile, refundable=left,
                               offline_pending=offline, policy=MerchantPolicy())
        self.order_refunded = cny(prior)
        # A warm start: a few steps along a valid path, so runs reach the warehouse and
        # disputes often; what follows is random.
        for action, actor, body in WARM_PATHS[warm][:depth]:
            state, count = self.case.state, len(self.case.events)
            self.now += timedelta(hours=1)
            try:
                event = self.case.act(action, actor, self.now, self.ctx, body)
            except DomainError:
                break
            self._moved(event, state, count)

    # --- steps ----------------------------------------------------------------------------

    # Acting is most of what happens to a case: three rules share it, so it gets most steps.
    @rule(data=st.data())
    def act(self, data: st.DataObject) -> None:
        self._act(data)

    @rule(data=st.data())
    def act_again(self, data: st.DataObject) -> None:
        self._act(data)

    @rule(data=st.data())
    def act_once_more(self, data: st.DataObject) -> None:
        self._act(data)

    def _act(self, data: st.DataObject) -> None:
        # Mostly an action open in this state by one of its roles; often anything at all.
        # Moves deeper into the machine weigh most, so runs reach the warehouse and disputes.
        open_now = allowed_actions(self.case.state, self.case.type)
        deeper = [a for a in open_now if any(
            t.source == self.case.state and t.action == a and self.case.type in t.types
            and t.target != t.source and t.target not in TERMINAL_STATES for t in TABLE)]
        pool = deeper * 8 + open_now * 4 + sorted(ALL_ACTIONS)
        action = data.draw(st.sampled_from(pool), label="action")
        rows = [t for t in TABLE if t.source == self.case.state and t.action == action]
        right = sorted({r for t in rows for r in t.roles})
        role = data.draw(st.sampled_from(right * 6 + list(Role)), label="role")
        body = data.draw(body_for(action), label="body")
        before, state, count = snapshot(self.case), self.case.state, len(self.case.events)
        try:
            event = self.case.act(action, Actor(role, "x1"), self.now, self.ctx, body)
        except DomainError:
            assert snapshot(self.case) == before, f"{action} by {role} changed the case and raised"
            return
        self._moved(event, state, count)

    @rule(hours=st.integers(0, 24 * 12))
    def advance(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule(jump=st.sampled_from([False, False, True]))
    def fire_current(self, jump: bool) -> None:
        deadline = current_deadline(self.case, self.ctx.order, self.ctx.profile)
        if deadline is None:
            return
        assert deadline.key not in self.fired, f"fired key {deadline.key} is current again"
        if jump and self.now < deadline.at:
            self.now = deadline.at
        before, state, count = snapshot(self.case), self.case.state, len(self.case.events)
        try:
            event = self.case.fire_deadline(deadline.key, self.now, self.ctx)
        except DomainError:
            assert snapshot(self.case) == before, f"firing {deadline.key} changed the case and raised"
            raise
        if self.now < deadline.at:
            assert event is None and snapshot(self.case) == before
            return
        assert event is not None, f"due deadline {deadline.key} did not fire"
        assert event.actor == "system" and deadline.rule in event.explanation
        self.fired.add(deadline.key)
        self._moved(event, state, count)

    @precondition(lambda self: bool(self.seen_keys))
    @rule(data=st.data())
    def refire_old_key(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.seen_keys)))
        current = current_deadline(self.case, self.ctx.order, self.ctx.profile)
        if current is not None and current.key == key:
            return  # not old: fire_current covers it
        before = snapshot(self.case)
        assert self.case.fire_deadline(key, self.now + timedelta(days=400), self.ctx) is None
        assert snapshot(self.case) == before

    @precondition(lambda self: self.case.state not in TERMINAL_STATES)
    @rule(hours=st.integers(1, 24 * 15))
    def platform_sends_deadline(self, hours: int) -> None:
        """PLATFORMS.md principle 1: a platform-sent deadline, for the state the case is in."""
        self.case.platform_deadline_at = self.now + timedelta(hours=hours)
        self.case.platform_deadline_seq = self.case.state_seq

    @rule()
    def toggle_offline_refund(self) -> None:
        self.ctx = CaseContext(order=self.ctx.order, profile=self.ctx.profile,
                               refundable=self.ctx.refundable,
                               offline_pending=not self.ctx.offline_pending, policy=self.ctx.policy)

    def _moved(self, event: Event, state: State, count: int) -> None:
        assert state not in TERMINAL_STATES, f"left terminal state {state} by {event.kind}"
        assert len(self.case.events) == count + 1 and self.case.events[-1] is event
        assert event.from_state == state and event.to_state == self.case.state
        assert event.at == self.now

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def money_never_exceeds_what_was_paid(self) -> None:
        if not hasattr(self, "ctx"):
            return
        left = self.ctx.refundable
        for amount in (self.case.approved_amount, self.case.offer and self.case.offer.amount):
            if amount is not None:
                assert amount <= left <= self.paid_for_lines, (amount, left)
                assert amount.amount >= 0
        if self.case.approved_amount is not None:
            inspection = self.case.inspection
            facts = RefundInput(
                case_type=self.case.type, reason=self.case.reason, approved=self.case.approved_amount,
                method=self.case.refund_method,
                lines=tuple((ln.line_id, ln.quantity) for ln in self.case.lines),
                refundable_goods=left, order_left=order_left(self.ctx.order, self.order_refunded),
                gifts_returned=None if inspection is None else inspection.gifts_returned,
                return_freight=self.case.return_freight, return_freight_cap=cny(2000),
            )
            plan = plan_refund(self.ctx.order, self.profile, facts)
            assert plan.goods <= left
            # The order's own money stays within what it took; the return freight the buyer
            # paid a carrier on a merchant-responsible return comes on top, up to the cap.
            reimbursed = plan.return_freight or cny(0)
            assert plan.total - reimbursed <= order_left(self.ctx.order, self.order_refunded)
            assert reimbursed <= cny(2000)

    @invariant()
    def terminal_states_stay_terminal(self) -> None:
        if not hasattr(self, "case"):
            return
        if self.terminal is not None:
            assert self.case.state == self.terminal
        elif self.case.state in TERMINAL_STATES:
            self.terminal = self.case.state
            assert current_deadline(self.case, self.ctx.order, self.ctx.profile) is None

    @invariant()
    def state_seq_only_grows_and_the_log_chains(self) -> None:
        if not hasattr(self, "case"):
            return
        assert self.case.state_seq >= self.last_seq
        self.last_seq = self.case.state_seq
        events = self.case.events
        for a, b in itertools.pairwise(events):
            assert a.to_state == b.from_state and a.at <= b.at
        if events:
            assert events[-1].to_state == self.case.state
        changes = sum(1 for e in events if e.from_state != e.to_state)
        assert self.case.state_seq >= changes

    @invariant()
    def fired_keys_stay_fired(self) -> None:
        if not hasattr(self, "case"):
            return
        assert self.fired <= self.case.fired
        deadline = current_deadline(self.case, self.ctx.order, self.ctx.profile)
        if deadline is not None:
            assert deadline.key not in self.fired
            self.seen_keys.add(deadline.key)


def _profiles() -> dict[str, Profile]:
    return bundled_profiles() or all_profiles()


for _pid, _profile in _profiles().items():
    _machine = type(f"CaseMachine_{_pid}", (CaseMachine,), {"profile": _profile})
    _test = _machine.TestCase
    _test.settings = settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow],
                              print_blob=True)
    globals()[f"TestCaseMachine_{_pid}"] = _test
del _pid, _profile, _machine, _test
