"""Nudging whoever must act on a case: an agent cannot inspect a return or pay it out,
but can remind the warehouse or finance — on the record (an event with the agent as
actor) and by the shop's alert email, so an overdue case always leaves the agent a move."""

from __future__ import annotations

from aftersales.domain.errors import Forbidden, InvalidInput, InvalidTransition
from aftersales.domain.vocabulary import WHO_MUST_ACT, Role, State
from aftersales.service.casework import Loaded, load, save
from aftersales.service.deps import Deps
from aftersales.service.notifications import enqueue
from aftersales.service.ports import Principal

NUDGE_ROLES = frozenset({Role.agent, Role.admin})
NUDGED = frozenset({"warehouse", "finance"})  # staff the agent cannot act for


def nudge_target(state: State) -> str | None:
    """The staff role a case in `state` waits on and an agent may nudge, or None."""
    party = WHO_MUST_ACT.get(state)
    return party if party in NUDGED else None


def nudge(deps: Deps, principal: Principal, case_id: str, note: str = "") -> Loaded:
    if principal.role not in NUDGE_ROLES:
        raise Forbidden(f"role {principal.role} may not nudge")
    text = note.strip()
    if len(text) > 500:
        raise InvalidInput("a nudge's note has at most 500 characters", code="invalid_note")
    with deps.uow() as uow:
        loaded = load(deps, uow, principal, case_id, lock=True)
        case, now = loaded.case, deps.now_for(loaded.shop)
        party = None if case.is_terminal else nudge_target(case.state)
        if party is None:
            raise InvalidTransition(f"a case in {case.state} waits on no one an agent can nudge",
                                    code="cannot_nudge")
        late = "overdue" if case.overdue else "waiting"
        explanation = f"{principal.actor} reminded the {party}: {case.state} is {late}" + (
            f" — {text}" if text else "")
        case.record("nudged", principal.actor, now, explanation, data={"to": party})
        enqueue(deps, uow, loaded.shop, case,
                f"[售后] 催办 / nudge: {party} — case {case.id[-8:]} ({case.state})",
                f"{explanation}\n\nCase {case.id}, order {case.order_id}.", now)
        save(uow, loaded, now, principal.role)
        uow.commit()
    return loaded
