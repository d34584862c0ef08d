"""Each case's current deadline, computed — never stored as the truth, only cached.

PLATFORMS.md principle 1: a deadline the platform sends wins over the profile, as long as
it was sent for the state the case is in now. The profile fills in otherwise; where
several of its rules match one state the earliest wins (principle 2).

A deadline is identified by `key` = "<state_seq>:<rule>": the case's count of state
entries plus the rule. Once the case moves on, or the rule has fired, the key no longer
matches — which is what makes firing twice, or after an agent acted, change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aftersales.domain.profile import DeadlineRule, Profile
from aftersales.domain.vocabulary import Outcome, State

if TYPE_CHECKING:
    from aftersales.domain.case import Case
    from aftersales.domain.orders import Order

# What happens when a platform-sent deadline passes in a state the profile has no rule for.
PLATFORM_DEFAULT_OUTCOME: dict[State, Outcome] = {
    State.requested: Outcome.auto_approve,
    State.awaiting_return: Outcome.auto_close,
    State.return_in_transit: Outcome.auto_confirm_receipt,
    State.rejected: Outcome.auto_close,
}


@dataclass(frozen=True, slots=True)
class Deadline:
    at: datetime
    outcome: Outcome
    source: str  # "platform" | "profile"
    rule: str
    key: str
    started_at: datetime
    confidence: str
    explanation_zh: str
    explanation_en: str
    conflict: str | None = None

    @property
    def window(self) -> timedelta:
        return self.at - self.started_at


def case_facts(case: Case, order: Order) -> tuple[tuple[str, bool], ...]:
    """The facts deadline rules may be conditioned on (profile.FACTS), as hashable pairs."""
    return (
        ("order_shipped", order.shipped_at is not None),
        ("order_delivered", order.delivered_at is not None),
        ("buyer_refused_delivery", case.buyer_refused_delivery),
        ("offer_pending", case.offer is not None),
    )


def matching_rules(case: Case, order: Order, profile: Profile) -> list[DeadlineRule]:
    """The profile's rules for the case as it stands; internal targets only where none apply."""
    return list(profile.matching(case.state, case.type, case_facts(case, order)))


def _anchor(case: Case, rule: DeadlineRule) -> datetime | None:
    if rule.anchor == "received":
        return case.received_at
    return case.state_entered_at


def current_deadline(case: Case, order: Order, profile: Profile) -> Deadline | None:
    """The deadline the case is under right now, or None (terminal, or no rule)."""
    if case.is_terminal:
        return None
    rules = matching_rules(case, order, profile)
    sent = case.platform_deadline_at if case.platform_deadline_seq == case.state_seq else None
    if sent is not None:
        base = rules[0] if rules else None
        outcome = base.outcome if base else PLATFORM_DEFAULT_OUTCOME.get(case.state, Outcome.flag_overdue)
        code = f"{profile.id}.platform_deadline"
        key = f"{case.state_seq}:{code}"
        if key in case.fired:
            return None
        return Deadline(
            at=sent, outcome=outcome, source="platform", rule=code, key=key,
            started_at=case.state_entered_at or case.opened_at, confidence="api",
            explanation_zh=(base.explanation_zh if base else "平台下发的截止时间已到"),
            explanation_en=(base.explanation_en if base else "deadline sent by the platform passed"),
        )
    best: Deadline | None = None
    for rule in rules:
        start = _anchor(case, rule)
        key = f"{case.state_seq}:{rule.rule}"
        if start is None or key in case.fired:
            continue
        candidate = _from_rule(rule, start, key)
        if best is None or candidate.at < best.at:
            best = candidate
    return best


def _from_rule(rule: DeadlineRule, start: datetime, key: str) -> Deadline:
    return Deadline(
        at=start + rule.duration, outcome=rule.outcome, source="profile", rule=rule.rule,
        key=key, started_at=start, confidence=rule.confidence,
        explanation_zh=rule.explanation_zh, explanation_en=rule.explanation_en,
        conflict=rule.conflict,
    )


def passed_deadline(case: Case, order: Order, profile: Profile) -> Deadline | None:
    """The deadline of the current state that already fired without moving the case — a
    `flag_overdue` alert, or an outcome that could not be performed — so an overdue case
    still shows what it is late for once `current_deadline` has nothing left to wait on."""
    if case.is_terminal:
        return None
    found: Deadline | None = None
    for rule in matching_rules(case, order, profile):
        start = _anchor(case, rule)
        key = f"{case.state_seq}:{rule.rule}"
        if start is None or key not in case.fired:
            continue
        candidate = _from_rule(rule, start, key)
        if found is None or candidate.at > found.at:
            found = candidate
    sent = f"{case.state_seq}:{profile.id}.platform_deadline"
    if found is None and sent in case.fired and case.platform_deadline_at is not None:
        found = Deadline(
            at=case.platform_deadline_at, outcome=Outcome.flag_overdue, source="platform",
            rule=f"{profile.id}.platform_deadline", key=sent,
            started_at=case.state_entered_at or case.opened_at, confidence="api",
            explanation_zh="平台下发的截止时间已到", explanation_en="deadline sent by the platform passed")
    return found


def is_near_timeout(deadline: Deadline | None, now: datetime, profile: Profile) -> bool:
    """即将超时: less than 20% of the window left, or less than 12 hours (DOMAIN.md)."""
    if deadline is None or now >= deadline.at:
        return False
    left = deadline.at - now
    share = left / deadline.window if deadline.window > timedelta(0) else 0.0
    return share < profile.near_timeout_share or left < timedelta(hours=profile.near_timeout_hours)


def is_overdue(deadline: Deadline | None, now: datetime) -> bool:
    return deadline is not None and now >= deadline.at
