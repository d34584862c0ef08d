"""Deadlines and automatic outcomes (DOMAIN.md "Deadlines and automatic outcomes";
PLATFORMS.md principles 1 and 2 and the deadline outcomes)."""

from __future__ import annotations

import pytest

from aftersales.domain.case import Case, CaseContext
from aftersales.domain.deadlines import (
    PLATFORM_DEFAULT_OUTCOME,
    current_deadline,
    is_near_timeout,
    is_overdue,
)
from aftersales.domain.errors import ProfileError
from aftersales.domain.profile import Profile, profile_from_dict
from aftersales.domain.vocabulary import CaseType, Outcome, Reason, State

from .factories import (
    AGENT,
    BUYER,
    T0,
    aliexpress_like,
    d,
    deadline_rule,
    delivered_order,
    h,
    kuaishou_like,
    make_order,
    make_profile,
    own_store_like,
    profile_dict,
    req,
    setup,
    snapshot,
    taobao_like,
    walk,
)

T = CaseType


def _due(case: Case, ctx: CaseContext):  # type: ignore[no-untyped-def]
    deadline = current_deadline(case, ctx.order, ctx.profile)
    assert deadline is not None
    return deadline


# --- which deadline applies ---------------------------------------------------------------

def test_profile_deadline_from_the_event_that_entered_the_state() -> None:
    """DOMAIN.md Deadlines: each non-terminal state may carry one deadline, computed from the
    event that entered it and the platform's profile (Kuaishou merchant review 48 h)."""
    case, ctx = setup(T.refund_only, profile=kuaishou_like())
    deadline = _due(case, ctx)
    assert deadline.at == T0 + h(48) and deadline.outcome == Outcome.auto_approve
    assert deadline.source == "profile" and deadline.rule == "kuaishou.merchant_review"
    assert deadline.key == "0:kuaishou.merchant_review" and deadline.window == h(48)
    assert deadline.confidence == "secondary"


def test_deadline_conditions_select_the_rule() -> None:
    """PLATFORMS.md Taobao: refund-only not yet shipped 24 h auto_refund; shipped, not
    received 36 h auto_approve; return-refund awaiting seller 5 d auto_approve."""
    profile = taobao_like()
    unshipped, ctx = setup(T.refund_only, order=make_order(), profile=profile)
    first = _due(unshipped, ctx)
    assert (first.rule, first.at) == ("taobao.unshipped_refund_only", T0 + h(24))
    assert _due(unshipped, ctx).outcome == Outcome.auto_refund
    in_transit = make_order(shipped_at=T0 - d(1))
    shipped, ctx = setup(T.refund_only, order=in_transit, profile=profile)
    assert (_due(shipped, ctx).rule, _due(shipped, ctx).at) == ("taobao.shipped_refund_only", T0 + h(36))
    signed, ctx = setup(T.refund_only, order=delivered_order(), profile=profile)
    assert current_deadline(signed, ctx.order, profile) is None
    ret, ctx = setup(T.return_refund, profile=profile)
    assert (_due(ret, ctx).rule, _due(ret, ctx).at) == ("taobao.return_review", T0 + d(5))


def test_refused_delivery_fact() -> None:
    """PLATFORMS.md Kuaishou: refund after the buyer refused delivery 5 d auto_refund — but the
    earliest matching rule wins (48 h review)."""
    case, ctx = setup(T.refund_only, profile=kuaishou_like())
    case.buyer_refused_delivery = True
    assert _due(case, ctx).rule == "kuaishou.merchant_review"
    case, ctx = setup(T.reissue, profile=kuaishou_like())
    case.buyer_refused_delivery = True
    deadline = _due(case, ctx)
    assert (deadline.rule, deadline.outcome) == ("kuaishou.refused_delivery", Outcome.auto_refund)


def test_earliest_profile_rule_wins() -> None:
    """PLATFORMS.md principle 2: when sources disagree, the profile uses the earlier deadline."""
    profile = make_profile(deadlines=[
        deadline_rule("late", "requested", "auto_approve", hours=72),
        deadline_rule("early", "requested", "auto_close", hours=24),
        deadline_rule("middle", "requested", "auto_refund", hours=48),
    ])
    case, ctx = setup(profile=profile)
    deadline = _due(case, ctx)
    assert (deadline.rule, deadline.at, deadline.outcome) == ("early", T0 + h(24), Outcome.auto_close)


def test_conflicting_sources_keep_the_earliest_and_say_so() -> None:
    """PLATFORMS.md Kuaishou: merchant confirms receipt 7 d (a merchant guide says 10 d) →
    conflict → 7 d, shown to the agent; principle 2 whichever order the sources come in."""
    case, ctx = setup(T.return_refund, profile=kuaishou_like())
    walk(case, ctx, "approve", "ship_return")
    deadline = _due(case, ctx)
    assert deadline.at == case.state_entered_at + d(7)
    assert deadline.conflict is not None and "10 days" in deadline.conflict
    data = profile_dict(deadlines=[deadline_rule(
        "r", "requested", "auto_approve", days=10,
        alternatives=[{"days": 7, "source": "other guide", "confidence": "unconfirmed"}])])
    rule = profile_from_dict(data, "x.toml").deadlines[0]
    assert rule.duration == d(7) and rule.source == "other guide" and rule.confidence == "unconfirmed"
    assert rule.conflict is not None and "10 days" in rule.conflict


def test_platform_sent_deadline_wins_in_the_state_it_was_sent_in() -> None:
    """PLATFORMS.md principle 1: a deadline the platform sends wins; the profile only fills in
    when the platform says nothing. The case stores source `platform`."""
    case, ctx = setup(T.refund_only, profile=kuaishou_like())
    case.platform_deadline_at, case.platform_deadline_seq = T0 + h(70), case.state_seq
    deadline = _due(case, ctx)
    assert (deadline.at, deadline.source, deadline.confidence) == (T0 + h(70), "platform", "api")
    assert deadline.outcome == Outcome.auto_approve  # the profile's outcome for this state
    assert deadline.rule == "kuaishou.platform_deadline"
    # A holiday-lengthened platform timer is later than the profile's, and still wins.
    assert deadline.at > T0 + h(48)


def test_platform_sent_deadline_does_not_outlive_its_state() -> None:
    """PLATFORMS.md principle 1: the platform's deadline was sent for one state; once the case
    moves on, the profile fills in again."""
    case, ctx = setup(T.return_refund, profile=kuaishou_like())
    case.platform_deadline_at, case.platform_deadline_seq = T0 + h(70), case.state_seq
    case.act("approve", AGENT, T0 + h(1), ctx)
    deadline = _due(case, ctx)
    assert deadline.source == "profile" and deadline.rule == "kuaishou.buyer_ship_return"


@pytest.mark.parametrize(("state", "outcome"), list(PLATFORM_DEFAULT_OUTCOME.items()))
def test_platform_deadline_without_a_profile_rule(state: State, outcome: Outcome) -> None:
    """PLATFORMS.md Douyin: every case carries status_deadline from the platform — where the
    profile has no rule for the state, the platform's usual outcome applies."""
    case, ctx = setup(T.return_refund, profile=make_profile("douyin"))
    case.state = state
    case.platform_deadline_at, case.platform_deadline_seq = T0 + h(5), case.state_seq
    deadline = _due(case, ctx)
    assert deadline.outcome == outcome and deadline.source == "platform"


def test_platform_deadline_in_other_states_only_flags() -> None:
    """PLATFORMS.md outcomes: flag_overdue — no state change, the case is marked late."""
    case, ctx = setup(T.return_refund, profile=make_profile("douyin"))
    case.state = State.inspecting
    case.platform_deadline_at, case.platform_deadline_seq = T0 + h(5), case.state_seq
    assert _due(case, ctx).outcome == Outcome.flag_overdue


def test_no_deadline_in_terminal_states_or_without_a_rule() -> None:
    """DOMAIN.md Deadlines: each *non-terminal* state *may* carry one deadline."""
    case, ctx = setup(T.refund_only, profile=kuaishou_like())
    walk(case, ctx, "approve", "refund_succeeded")
    assert case.state == State.completed and current_deadline(case, ctx.order, ctx.profile) is None
    case, ctx = setup(T.refund_only, profile=make_profile())
    assert current_deadline(case, ctx.order, ctx.profile) is None


def test_received_anchor() -> None:
    """PLATFORMS.md Chinese law: refund within 7 days of receiving the returned goods, alert
    at day 5 — counted from receipt, not from entering the state."""
    profile = make_profile(deadlines=[deadline_rule(
        "law.refund_alert", "refunding", "flag_overdue", days=5, anchor="received",
        types=["return_refund"])])
    case, ctx = setup(T.return_refund, profile=profile)
    walk(case, ctx, "approve", "ship_return", "receive")
    received = case.received_at
    assert received is not None
    walk(case, ctx, "inspect_accept", at=received + d(2))
    assert _due(case, ctx).at == received + d(5)
    # Given up without receipt: no anchor, no deadline.
    case, ctx = setup(T.return_refund, profile=profile)
    walk(case, ctx, "approve")
    case.act("give_up_goods", AGENT, T0 + h(9), ctx)
    assert current_deadline(case, ctx.order, profile) is None


# --- near timeout -------------------------------------------------------------------------

def test_near_timeout_under_twenty_percent_of_the_window() -> None:
    """DOMAIN.md Deadlines: a case whose deadline is near (less than 20% of its window) is
    flagged 即将超时."""
    profile = make_profile(deadlines=[deadline_rule("ten_days", "requested", "auto_approve", days=10)])
    case, ctx = setup(profile=profile)
    deadline = _due(case, ctx)
    assert not is_near_timeout(deadline, T0 + d(7), profile)  # 30% left
    assert not is_near_timeout(deadline, T0 + d(8) - h(1), profile)  # just over 20%, > 12 h
    assert is_near_timeout(deadline, T0 + d(8) + h(1), profile)  # under 20% (47 h left)


def test_near_timeout_under_twelve_hours() -> None:
    """DOMAIN.md Deadlines: … or less than 12 hours."""
    profile = make_profile(deadlines=[deadline_rule("two_days", "requested", "auto_approve", hours=48)])
    case, ctx = setup(profile=profile)
    deadline = _due(case, ctx)
    assert not is_near_timeout(deadline, T0 + h(35), profile)  # 13 h left = 27%
    assert is_near_timeout(deadline, T0 + h(36) + h(1), profile)  # 11 h left
    assert not is_near_timeout(deadline, T0 + h(48), profile)  # past: overdue, not near
    assert is_overdue(deadline, T0 + h(48)) and not is_overdue(deadline, T0 + h(47))
    assert not is_near_timeout(None, T0, profile) and not is_overdue(None, T0)


def test_near_timeout_thresholds_come_from_the_profile() -> None:
    """DOMAIN.md Deadlines: "default: less than 20% … or 12 hours" — a profile may set others."""
    data = profile_dict(deadlines=[deadline_rule("r", "requested", "auto_approve", hours=100)])
    data["profile"].update(near_timeout_share=0.5, near_timeout_hours=1)
    profile = profile_from_dict(data, "x.toml")
    case, ctx = setup(profile=profile)
    assert is_near_timeout(_due(case, ctx), T0 + h(51), profile)
    assert not is_near_timeout(_due(case, ctx), T0 + h(49), profile)


# --- firing -------------------------------------------------------------------------------

def test_firing_performs_the_outcome_as_system_naming_the_rule() -> None:
    """DOMAIN.md Deadlines: when the deadline passes, the system performs the platform's
    automatic outcome as actor `system`, with the rule that fired in the explanation."""
    case, ctx = setup(T.refund_only, profile=kuaishou_like())
    deadline = _due(case, ctx)
    event = case.fire_deadline(deadline.key, T0 + h(48), ctx)
    assert event is not None and event.actor == "system" and event.kind == "approve"
    assert "kuaishou.merchant_review" in event.explanation and event.reason_code == deadline.rule
    assert case.state == State.refunding and case.approved_amount == case.requested_amount


@pytest.mark.parametrize(("profile", "case_type", "steps", "state", "kind"), [
    (taobao_like(), T.refund_only, (), State.refunding, "auto_refund"),
    (taobao_like(), T.return_refund, ("approve",), State.closed, "auto_close"),
    (taobao_like(), T.return_refund, ("approve", "ship_return"), State.refunding, "confirm_receipt"),
    (taobao_like(), T.exchange, ("approve", "ship_return"), State.awaiting_reshipment, "confirm_receipt"),
    (taobao_like(), T.return_refund, ("reject",), State.closed, "auto_close"),
    (aliexpress_like(), T.return_refund, ("approve",), State.closed, "pay_seller"),
    (aliexpress_like(), T.return_refund, (), State.refunding, "auto_refund"),
])
def test_each_outcome(profile: object, case_type: CaseType, steps: tuple[str, ...], state: State,
                      kind: str) -> None:
    """PLATFORMS.md deadline outcomes: auto_refund (at the buyer's requested amount),
    auto_close, auto_confirm_receipt (⇒ refund), pay_seller (case closes in the merchant's
    favour)."""
    order = make_order() if kind == "auto_refund" and profile.id == "taobao" else delivered_order()  # type: ignore[attr-defined]
    case, ctx = setup(case_type, profile=profile, order=order)  # type: ignore[arg-type]
    walk(case, ctx, *steps)
    deadline = _due(case, ctx)
    event = case.fire_deadline(deadline.key, deadline.at, ctx)
    assert event is not None and event.kind == kind and case.state == state
    if kind == "auto_refund":
        assert case.approved_amount == case.requested_amount


def test_auto_refund_never_exceeds_the_refundable() -> None:
    """PLATFORMS.md outcomes: auto_refund at the buyer's requested amount — DOMAIN.md Money
    rules: never more than was paid minus refunded."""
    case, ctx = setup(T.refund_only, order=make_order(), profile=taobao_like(), order_refunded=7000)
    deadline = _due(case, ctx)
    case.fire_deadline(deadline.key, deadline.at, ctx)
    assert case.approved_amount is not None and case.approved_amount.amount == 3000


def test_flag_overdue_marks_late_without_changing_state_and_fires_once() -> None:
    """PLATFORMS.md outcomes: flag_overdue — no state change, the case is marked late; a
    deadline fires once."""
    case, ctx = setup(T.refund_only, profile=own_store_like())
    deadline = _due(case, ctx)
    event = case.fire_deadline(deadline.key, deadline.at + h(1), ctx)
    assert event is not None and event.kind == "flag_overdue"
    assert (event.from_state, event.to_state) == (State.requested, State.requested)
    assert case.overdue and case.state == State.requested and case.state_seq == 0
    assert current_deadline(case, ctx.order, ctx.profile) is None
    before = snapshot(case)
    assert case.fire_deadline(deadline.key, deadline.at + h(2), ctx) is None
    assert snapshot(case) == before


def test_flag_overdue_lets_a_later_rule_of_the_same_state_follow() -> None:
    """PLATFORMS.md outcomes: a flag changes nothing else — a later automatic outcome of the
    same state still comes."""
    profile = make_profile(deadlines=[
        deadline_rule("alert", "requested", "flag_overdue", hours=24),
        deadline_rule("auto", "requested", "auto_approve", hours=48),
    ])
    case, ctx = setup(T.refund_only, profile=profile)
    case.fire_deadline(_due(case, ctx).key, T0 + h(24), ctx)
    nxt = _due(case, ctx)
    assert nxt.rule == "auto" and case.fire_deadline(nxt.key, T0 + h(48), ctx) is not None
    assert case.state == State.refunding


def test_firing_early_twice_or_after_the_case_moved_on_changes_nothing() -> None:
    """DOMAIN.md Deadlines: no request ever times out unnoticed — and a deadline that no
    longer applies (the agent acted first, or it already fired) does nothing."""
    case, ctx = setup(T.return_refund, profile=taobao_like())
    deadline = _due(case, ctx)
    before = snapshot(case)
    assert case.fire_deadline(deadline.key, deadline.at - h(1), ctx) is None  # not yet due
    assert case.fire_deadline("0:other.rule", deadline.at, ctx) is None  # not this deadline
    assert snapshot(case) == before
    case.act("reject", AGENT, T0 + h(2), ctx, req(reason_code="x", explanation="y"))
    before = snapshot(case)
    assert case.fire_deadline(deadline.key, deadline.at, ctx) is None  # the agent acted first
    assert snapshot(case) == before
    fresh = _due(case, ctx)
    assert case.fire_deadline(fresh.key, fresh.at, ctx) is not None
    before = snapshot(case)
    assert case.fire_deadline(fresh.key, fresh.at + h(1), ctx) is None  # twice
    assert snapshot(case) == before


def test_re_entering_a_state_gives_a_new_key() -> None:
    """PLATFORMS.md: deadlines are computed from the event that entered the state — a case that
    comes back (resubmission) gets a fresh deadline, not the old one."""
    case, ctx = setup(T.return_refund, profile=kuaishou_like())
    first = _due(case, ctx)
    case.act("reject", AGENT, T0 + h(1), ctx, req(reason_code="x", explanation="y"))
    case.act("resubmit", BUYER, T0 + h(2), ctx)
    again = _due(case, ctx)
    assert again.rule == first.rule and again.key != first.key and again.at == T0 + h(50)


# --- the profile's deadline rules validate ------------------------------------------------

@pytest.mark.parametrize(("change", "where"), [
    ({"hours": 0}, "hours"),
    ({"days": 1}, "exactly one"),
    ({"outcome": "explode"}, "outcome"),
    ({"state": "limbo"}, "state"),
    ({"confidence": "rumour"}, "confidence"),
    ({"when": {"moon_full": True}}, "when"),
    ({"anchor": "lunch"}, "anchor"),
    ({"types": ["barter"]}, "types"),
])
def test_bad_deadline_rules_name_file_and_key(change: dict[str, object], where: str) -> None:
    """PLATFORMS.md: profiles keep the tag and the source — a rule that does not validate is a
    ProfileError naming the file and the key."""
    entry = deadline_rule("r", "requested", "auto_approve", hours=5)
    entry.update(change)
    with pytest.raises(ProfileError) as err:
        profile_from_dict(profile_dict(deadlines=[entry]), "bad.toml")
    assert "bad.toml" in err.value.message and where in err.value.message


def test_duplicate_rule_codes_are_refused() -> None:
    """profile.py: a rule code identifies a deadline (its fired key) — codes are unique."""
    rules = [deadline_rule("r", "requested", "auto_approve", hours=5),
             deadline_rule("r", "rejected", "auto_close", hours=5)]
    with pytest.raises(ProfileError):
        profile_from_dict(profile_dict(deadlines=rules), "dup.toml")


def test_day_rules_are_marked_as_calendar_days() -> None:
    """DOMAIN.md Shops and time: windows in days count calendar days; deadlines in hours count
    exact hours — the profile keeps which is which."""
    profile: Profile = make_profile(deadlines=[deadline_rule("a", "requested", "auto_approve", days=2),
                                               deadline_rule("b", "rejected", "auto_close", hours=2)])
    assert [r.calendar_days for r in profile.deadlines] == [True, False]


def test_unknown_reason_does_not_matter_for_deadlines() -> None:
    """PLATFORMS.md: deadlines depend on state, type and the order's facts, not the reason."""
    a, ctx = setup(T.refund_only, Reason.no_reason, profile=kuaishou_like())
    b, _ = setup(T.refund_only, Reason.quality_issue, profile=kuaishou_like())
    assert current_deadline(a, ctx.order, ctx.profile) == current_deadline(b, ctx.order, ctx.profile)
