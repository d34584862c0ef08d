"""The transition table (transitions.TABLE) checked as a graph (DOMAIN.md "States")."""

from __future__ import annotations

from collections import defaultdict

import pytest

from aftersales.domain import transitions
from aftersales.domain.case import EFFECTS
from aftersales.domain.errors import Forbidden, InvalidTransition
from aftersales.domain.guards import GUARDS
from aftersales.domain.transitions import ALL_ACTIONS, OUTCOME_ACTIONS, TABLE
from aftersales.domain.vocabulary import TERMINAL_STATES, CaseType, Outcome, Role, State

# API.md "POST /cases/{id}/actions/{action}": the action table, with the roles it names.
API_ACTIONS: dict[str, set[Role]] = {
    "approve": {Role.agent},
    "reject": {Role.agent},
    "counter_offer": {Role.agent},
    "accept_offer": {Role.buyer},
    "decline_offer": {Role.buyer},
    "cancel": {Role.buyer},
    "ship_return": {Role.buyer},
    "receive": {Role.warehouse},
    "inspect": {Role.warehouse},
    "give_up_goods": {Role.agent},
    "reship": {Role.warehouse, Role.agent},
    "escalate": {Role.buyer},
    "rule": {Role.platform},
    "mark_refunded": {Role.finance},
}


def _edges(case_type: CaseType | None = None) -> dict[State, set[State]]:
    graph: dict[State, set[State]] = defaultdict(set)
    for row in TABLE:
        if case_type is None or case_type in row.types:
            graph[row.source].add(row.target)
    return graph


def _reachable(start: State, graph: dict[State, set[State]]) -> set[State]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_state_is_reachable_from_requested() -> None:
    """DOMAIN.md States: one state machine; every case starts at `requested` (待商家处理)."""
    assert _reachable(State.requested, _edges()) == set(State)


def test_every_non_terminal_state_has_an_exit_to_another_state() -> None:
    """DOMAIN.md States: each non-terminal state lists how it is left ("leaves by")."""
    for state in State:
        if state in TERMINAL_STATES:
            continue
        assert any(r.source == state and r.target != state for r in TABLE), state


def test_terminal_states_have_no_outgoing_rows() -> None:
    """DOMAIN.md States: `completed` and `closed` are terminal."""
    assert {State.completed, State.closed} == TERMINAL_STATES
    assert not [r for r in TABLE if r.source in TERMINAL_STATES]


@pytest.mark.parametrize("case_type", list(CaseType))
def test_every_state_a_type_can_reach_can_still_end(case_type: CaseType) -> None:
    """DOMAIN.md States: a case ends `completed` or `closed` — for every case type, every
    state it can reach has a path to a terminal state (no dead ends)."""
    graph = _edges(case_type)
    for state in _reachable(State.requested, graph):
        assert _reachable(state, graph) & TERMINAL_STATES, (case_type, state)


@pytest.mark.parametrize("case_type", list(CaseType))
def test_every_type_can_both_complete_and_close(case_type: CaseType) -> None:
    """DOMAIN.md States: completed = refunded, reshipped or exchanged; closed = cancelled,
    auto-closed or ruled for the merchant — both open to every type."""
    reach = _reachable(State.requested, _edges(case_type))
    assert {State.completed, State.closed} <= reach


def test_returning_types_pass_through_the_warehouse() -> None:
    """DOMAIN.md Case types: return_refund and exchange — goods come back; refund_only,
    reissue and compensation — nothing comes back."""
    for case_type in CaseType:
        reach = _reachable(State.requested, _edges(case_type))
        comes_back = case_type in (CaseType.return_refund, CaseType.exchange)
        assert (State.inspecting in reach) is comes_back, case_type
        assert (State.awaiting_return in reach) is comes_back, case_type


def test_every_api_action_is_in_the_table_with_its_roles() -> None:
    """API.md action table: every action there is a row of the table, for the role named
    there (admin may take every staff action)."""
    for action, roles in API_ACTIONS.items():
        rows = [r for r in TABLE if r.action == action]
        assert rows, action
        for role in roles:
            assert any(role in r.roles for r in rows), (action, role)
        staff = roles & {Role.agent, Role.warehouse, Role.finance}
        if staff:
            assert all(Role.admin in r.roles for r in rows), action
    assert set(API_ACTIONS) <= transitions.PUBLIC_ACTIONS


def test_buyer_and_platform_actions_belong_to_them_alone() -> None:
    """transitions.py: buyer and platform actions belong to those parties alone; system
    actions to the deadline worker (API.md: a forbidden action is 403)."""
    for row in TABLE:
        if Role.buyer in row.roles or Role.platform in row.roles:
            assert len(row.roles) == 1, row
        if Role.system in row.roles:
            assert not row.roles & {Role.buyer, Role.platform}, row


def test_every_guard_exists() -> None:
    """transitions.py: a row's guard names a condition in guards.GUARDS."""
    for row in TABLE:
        if row.guard is not None:
            assert row.guard in GUARDS, row
    assert {r.guard for r in TABLE if r.guard} == set(GUARDS)


def test_every_action_has_an_effect_or_is_a_pure_move() -> None:
    """case.py: `act` applies the action's effect; every effect names a table action."""
    assert set(EFFECTS) <= ALL_ACTIONS
    assert ALL_ACTIONS - set(EFFECTS) <= {"cancel", "auto_close", "pay_seller",
                                          "refund_succeeded", "refund_failed"}


def test_every_outcome_is_performed_by_a_system_row() -> None:
    """PLATFORMS.md deadline outcomes: the system performs the platform's automatic outcome,
    as actor `system` — every outcome maps to an action with a system row somewhere."""
    assert set(OUTCOME_ACTIONS) == {o.value for o in Outcome}
    for outcome, action in OUTCOME_ACTIONS.items():
        assert any(r.action == action and Role.system in r.roles for r in TABLE), outcome


def test_flag_overdue_never_changes_state() -> None:
    """PLATFORMS.md: `flag_overdue` (no state change: the case is marked late)."""
    rows = [r for r in TABLE if r.action == "flag_overdue"]
    assert {r.source for r in rows} == set(State) - TERMINAL_STATES
    assert all(r.source == r.target for r in rows)


def test_the_table_is_deterministic() -> None:
    """transitions.py: nothing else decides where a case goes next — one row per (state,
    action, type, branch, role)."""
    seen: dict[tuple[object, ...], State] = {}
    for row in TABLE:
        for case_type in row.types:
            for role in row.roles:
                key = (row.source, row.action, case_type, row.branch, role)
                assert key not in seen, key
                seen[key] = row.target


def test_branches_are_the_documented_ones() -> None:
    """API.md: receive prepaid/cod, inspect accept/refuse, rule buyer/merchant."""
    branches: dict[str, set[str | None]] = defaultdict(set)
    for row in TABLE:
        branches[row.action].add(row.branch)
    assert branches["receive"] == {"prepaid", "cod"}
    assert branches["inspect"] == {"accept", "refuse"}
    assert branches["rule"] == {"buyer", "merchant"}
    assert all(b == {None} for a, b in branches.items() if a not in ("receive", "inspect", "rule"))


def test_cod_refusal_row_goes_back_to_awaiting_return() -> None:
    """API.md: `receive` with prepaid false refuses the parcel — back to awaiting_return with
    event `parcel_refused_cod`."""
    row = transitions.find(State.return_in_transit, "receive", CaseType.return_refund, "cod",
                           Role.warehouse)
    assert row.target == State.awaiting_return and row.kind == "parcel_refused_cod"


def test_find_tells_wrong_state_from_wrong_role() -> None:
    """API.md: an action not allowed in the current state is 409 invalid_transition; a
    forbidden action is 403."""
    with pytest.raises(InvalidTransition) as wrong_state:
        transitions.find(State.completed, "approve", CaseType.refund_only, None, Role.agent)
    assert wrong_state.value.code == "invalid_transition"
    with pytest.raises(Forbidden) as wrong_role:
        transitions.find(State.requested, "approve", CaseType.refund_only, None, Role.buyer)
    assert wrong_role.value.code == "forbidden"
    # A role that can never take the action is 403 in any state, not "not now".
    with pytest.raises(Forbidden):
        transitions.find(State.completed, "approve", CaseType.refund_only, None, Role.buyer)
    # A role that may take it in another state is told "not now".
    with pytest.raises(InvalidTransition):
        transitions.find(State.requested, "receive", CaseType.return_refund, "prepaid", Role.warehouse)


def test_allowed_actions_follow_the_table() -> None:
    """transitions.py: the console shows only the actions open from this state, per role."""
    assert set(transitions.allowed_actions(State.requested, CaseType.return_refund, Role.buyer)) \
        == {"accept_offer", "decline_offer", "cancel"}
    assert transitions.allowed_actions(State.completed, CaseType.refund_only) == []
    agent = transitions.allowed_actions(State.awaiting_return, CaseType.return_refund, Role.agent)
    assert agent == ["give_up_goods"]


def test_mermaid_draws_every_edge() -> None:
    """transitions.py: docs/ draws the table; every state-changing row is an edge there."""
    text = transitions.mermaid()
    assert text.startswith("stateDiagram-v2")
    for row in TABLE:
        if row.action != "flag_overdue":
            assert f"{row.source} --> {row.target}:" in text, row
