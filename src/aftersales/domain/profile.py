"""A platform's rule profile: windows, deadlines and automatic outcomes, as data.

Profiles live in TOML files (one per platform, src/aftersales/profiles/); this module is
their shape and their validation. The domain branches on these fields, never on a
platform's name, so adding a platform means adding a file. Every value carries its
`source` and `confidence` (official | api | secondary | unconfirmed) because the desk
shows how sure we are next to each deadline (PLATFORMS.md).

Where sources disagree a deadline lists `alternatives`; the profile takes the earliest
(PLATFORMS.md principle 2: warned a day early loses nothing, a day late loses the case).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aftersales.domain.errors import ProfileError
from aftersales.domain.vocabulary import CaseType, Outcome, Responsibility, State

CONFIDENCES = ("official", "api", "secondary", "unconfirmed")
# Facts a deadline rule may be conditioned on (see deadlines.case_facts).
FACTS = ("order_shipped", "order_delivered", "buyer_refused_delivery", "offer_pending")
ANCHORS = ("state_entered", "received")
# Eligibility rules whose value is one of a few words (checked when a profile loads).
RULE_CHOICES: Mapping[str, tuple[str, ...]] = {
    "once_per_line_counts_cancelled": ("never", "after_trade_success", "always"),
}


@dataclass(frozen=True, slots=True)
class Sourced:
    """A value with where it comes from and how sure we are."""

    value: Any
    source: str
    confidence: str


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    rule: str  # stable code, e.g. "kuaishou.merchant_review"
    state: State
    duration: timedelta  # the earliest of the sources
    outcome: Outcome
    source: str
    confidence: str
    explanation_zh: str
    explanation_en: str
    types: frozenset[CaseType] = frozenset(CaseType)
    when: Mapping[str, bool] = field(default_factory=dict)
    anchor: str = "state_entered"
    calendar_days: bool = False  # counted in calendar days in the shop's timezone
    conflict: str | None = None  # what the other sources said, shown to the agent
    fallback: bool = False  # an internal target: only where no platform rule applies


@dataclass(frozen=True, slots=True)
class FreightRule:
    outbound_refunded: bool  # the buyer's outbound freight comes back
    return_paid_by: str  # "merchant" | "buyer"


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    version: str
    name: str
    currencies: tuple[str, ...]
    deadlines: tuple[DeadlineRule, ...]
    rules: Mapping[str, Sourced]
    freight: Mapping[Responsibility, FreightRule]
    status_map: Mapping[str, str]
    near_timeout_share: float = 0.2
    near_timeout_hours: int = 12
    # Rules by state, and the rules matching a (state, type, facts) situation: asked for on
    # every save of every case, and a profile never changes once loaded.
    _by_state: Mapping[State, tuple[DeadlineRule, ...]] = field(
        init=False, repr=False, compare=False, hash=False)
    _matching: dict[tuple[Any, ...], tuple[DeadlineRule, ...]] = field(
        init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        by_state: dict[State, list[DeadlineRule]] = {}
        for rule in self.deadlines:
            by_state.setdefault(rule.state, []).append(rule)
        object.__setattr__(self, "_by_state", {k: tuple(v) for k, v in by_state.items()})
        object.__setattr__(self, "_matching", {})

    def rule(self, name: str, default: Any = None) -> Any:
        """The value of an eligibility rule (e.g. `no_reason_days`), or `default`."""
        found = self.rules.get(name)
        return default if found is None else found.value

    def state_of(self, raw: str) -> State | None:
        """The state a platform's raw status maps to through `status_map`, or None.

        The one reading of a platform status, used by the import adapters and by the HTTP
        sync alike, so both paths map every status the same way. A composite status
        ("10;negotiateStatus=3") is read whole first, then from its most specific part.
        """
        for candidate in (raw, *reversed(raw.split(";"))):
            mapped = self.status_map.get(candidate.strip())
            if mapped is not None:
                return State(mapped)
        return None

    def deadline_rules(self, state: State) -> list[DeadlineRule]:
        return list(self._by_state.get(state, ()))

    def matching(self, state: State, case_type: CaseType,
                 facts: tuple[tuple[str, bool], ...]) -> tuple[DeadlineRule, ...]:
        """The rules for a case in `state` of `case_type` with these facts; internal targets
        (fallback rules) only where no platform rule applies."""
        key = (state, case_type, facts)
        found = self._matching.get(key)
        if found is None:
            known = dict(facts)
            every = [r for r in self._by_state.get(state, ())
                     if case_type in r.types and all(known[k] == v for k, v in r.when.items())]
            found = tuple(r for r in every if not r.fallback) or tuple(every)
            self._matching[key] = found
        return found


def _duration(entry: Mapping[str, Any], where: str) -> tuple[timedelta, bool]:
    keys = [k for k in ("hours", "days", "minutes") if k in entry]
    if len(keys) != 1:
        raise ProfileError(f"{where}: give exactly one of hours, days, minutes")
    amount = entry[keys[0]]
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ProfileError(f"{where}.{keys[0]}: must be a positive integer, got {amount!r}")
    return timedelta(**{keys[0]: amount}), keys[0] == "days"


def _require(entry: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in entry:
        raise ProfileError(f"{where}: missing key {key!r}")
    return entry[key]


def _sourced_fields(entry: Mapping[str, Any], where: str) -> tuple[str, str]:
    source = _require(entry, "source", where)
    confidence = _require(entry, "confidence", where)
    if not isinstance(source, str) or not source.strip():
        raise ProfileError(f"{where}.source: must be a non-empty string")
    if confidence not in CONFIDENCES:
        raise ProfileError(f"{where}.confidence: {confidence!r} is not one of {CONFIDENCES}")
    return source, confidence


def _enum(kind: Any, value: Any, where: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise ProfileError(f"{where}: unknown value {value!r}") from None


def _deadline(entry: Mapping[str, Any], where: str) -> DeadlineRule:
    rule = _require(entry, "rule", where)
    state = _enum(State, _require(entry, "state", where), f"{where}.state")
    outcome = _enum(Outcome, _require(entry, "outcome", where), f"{where}.outcome")
    duration, calendar = _duration(entry, where)
    source, confidence = _sourced_fields(entry, where)
    conflict = None
    for i, alt in enumerate(entry.get("alternatives", [])):
        alt_where = f"{where}.alternatives[{i}]"
        alt_duration, alt_calendar = _duration(alt, alt_where)
        alt_source, alt_conf = _sourced_fields(alt, alt_where)
        note = f"{alt_source} ({alt_conf}) says {alt_duration}"
        if alt_duration < duration:  # the earlier deadline wins
            note = f"{source} ({confidence}) says {duration}"
            duration, calendar, source, confidence = alt_duration, alt_calendar, alt_source, alt_conf
        conflict = note if conflict is None else f"{conflict}; {note}"
    types = frozenset(_enum(CaseType, t, f"{where}.types") for t in entry.get("types", list(CaseType)))
    when = entry.get("when", {})
    for fact, value in when.items():
        if fact not in FACTS or not isinstance(value, bool):
            raise ProfileError(f"{where}.when.{fact}: facts are {FACTS}, each true or false")
    fallback = entry.get("fallback", False)
    if not isinstance(fallback, bool):
        raise ProfileError(f"{where}.fallback: must be true or false")
    anchor = entry.get("anchor", "state_entered")
    if anchor not in ANCHORS:
        raise ProfileError(f"{where}.anchor: {anchor!r} is not one of {ANCHORS}")
    return DeadlineRule(
        rule=str(rule), state=state, duration=duration, outcome=outcome, source=source,
        confidence=confidence, explanation_zh=str(_require(entry, "zh", where)),
        explanation_en=str(_require(entry, "en", where)), types=types, when=dict(when),
        anchor=anchor, calendar_days=calendar, conflict=conflict, fallback=fallback,
    )


def profile_from_dict(data: Mapping[str, Any], origin: str) -> Profile:
    """Validate a parsed TOML document; errors name the file (`origin`) and the key."""
    head = _require(data, "profile", origin)
    where = f"{origin}: profile"
    pid = _require(head, "id", where)
    rules: dict[str, Sourced] = {}
    for name, entry in data.get("rules", {}).items():
        rwhere = f"{origin}: rules.{name}"
        if not isinstance(entry, Mapping):
            raise ProfileError(f"{rwhere}: must be a table with value, source, confidence")
        source, confidence = _sourced_fields(entry, rwhere)
        value = _require(entry, "value", rwhere)
        if name in RULE_CHOICES and value not in RULE_CHOICES[name]:
            raise ProfileError(f"{rwhere}.value: {value!r} is not one of {RULE_CHOICES[name]}")
        rules[name] = Sourced(value, source, confidence)
    deadlines = tuple(
        _deadline(entry, f"{origin}: deadlines[{i}]")
        for i, entry in enumerate(data.get("deadlines", []))
    )
    codes = [d.rule for d in deadlines]
    if len(set(codes)) != len(codes):
        raise ProfileError(f"{origin}: deadlines: rule codes must be unique")
    freight: dict[Responsibility, FreightRule] = {}
    for name, entry in data.get("freight", {}).items():
        fwhere = f"{origin}: freight.{name}"
        resp = _enum(Responsibility, name, fwhere)
        payer = _require(entry, "return_paid_by", fwhere)
        if payer not in ("merchant", "buyer"):
            raise ProfileError(f"{fwhere}.return_paid_by: merchant or buyer")
        freight[resp] = FreightRule(bool(_require(entry, "outbound_refunded", fwhere)), payer)
    status_map = {str(k): str(v) for k, v in data.get("status_map", {}).items()}
    for raw, state in status_map.items():
        _enum(State, state, f"{origin}: status_map.{raw}")
    return Profile(
        id=str(pid), version=str(_require(head, "version", where)),
        name=str(_require(head, "name", where)),
        currencies=tuple(head.get("currencies", ["CNY"])), deadlines=deadlines,
        rules=rules, freight=freight, status_map=status_map,
        near_timeout_share=float(head.get("near_timeout_share", 0.2)),
        near_timeout_hours=int(head.get("near_timeout_hours", 12)),
    )
