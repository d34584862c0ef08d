"""The one state machine every platform maps onto, written as a table.

Each row says: in `source`, `action` (taken by one of `roles`) leads to `target`, for
the case types listed (all when empty) and the `branch` the action's payload selects
(`inspect` accept/refuse, `receive` prepaid/cod, `rule` buyer/merchant). A `guard` names
a condition of the case (see guards.py) that must hold. Nothing else in the code
decides where a case goes next; tests check the table as a graph, and docs/ draws it.

`admin` may take every staff action (agent, warehouse, finance); buyer and platform
actions belong to those parties alone, and `system` actions to the deadline worker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aftersales.domain.errors import Forbidden, InvalidTransition
from aftersales.domain.vocabulary import CaseType, Role, State

S = State
T = CaseType
ALL_TYPES: frozenset[CaseType] = frozenset(CaseType)
RETURNS = frozenset({T.return_refund, T.exchange})
MONEY_NOW = frozenset({T.refund_only, T.compensation})


@dataclass(frozen=True, slots=True)
class Transition:
    source: State
    action: str
    target: State
    roles: frozenset[Role]
    types: frozenset[CaseType] = ALL_TYPES
    branch: str | None = None
    guard: str | None = None
    kind: str | None = None  # event kind when it differs from the action name


def _t(source: State, action: str, target: State, roles: Iterable[str], *,
       types: Iterable[CaseType] = ALL_TYPES, branch: str | None = None,
       guard: str | None = None, kind: str | None = None) -> Transition:
    return Transition(source, action, target, frozenset(Role(r) for r in roles),
                      frozenset(types), branch, guard, kind)


AGENT = ("agent", "admin")
SYSTEM = ("system",)
BUYER = ("buyer",)
NON_TERMINAL = [s for s in State if s not in (S.completed, S.closed)]

TABLE: tuple[Transition, ...] = (
    # requested (待商家处理): the merchant must answer.
    _t(S.requested, "approve", S.awaiting_return, (*AGENT, "system"), types=RETURNS),
    _t(S.requested, "approve", S.refunding, (*AGENT, "system"), types=MONEY_NOW),
    _t(S.requested, "approve", S.awaiting_reshipment, (*AGENT, "system"), types={T.reissue}),
    _t(S.requested, "auto_refund", S.refunding, SYSTEM),
    _t(S.requested, "reject", S.rejected, AGENT, guard="refusable"),
    _t(S.requested, "counter_offer", S.requested, AGENT, guard="no_offer_pending"),
    _t(S.requested, "accept_offer", S.refunding, BUYER, guard="offer_pending"),
    _t(S.requested, "decline_offer", S.requested, BUYER, guard="offer_pending"),
    _t(S.requested, "cancel", S.closed, BUYER),
    _t(S.requested, "auto_close", S.closed, SYSTEM),
    # Shipping the order in time closes an unshipped refund-only request where the platform
    # says so (Taobao, Douyin: "a pre-shipment refund is refused only by shipping").
    _t(S.requested, "ship_order", S.closed, ("agent", "warehouse", "admin"),
       types={T.refund_only}, guard="shipping_closes_request"),
    # awaiting_return (待买家退货): the buyer must ship and fill in the waybill.
    _t(S.awaiting_return, "ship_return", S.return_in_transit, BUYER),
    _t(S.awaiting_return, "give_up_goods", S.refunding, AGENT, types={T.return_refund}),
    _t(S.awaiting_return, "give_up_goods", S.awaiting_reshipment, AGENT, types={T.exchange}),
    _t(S.awaiting_return, "cancel", S.closed, BUYER),
    _t(S.awaiting_return, "auto_close", S.closed, SYSTEM),
    _t(S.awaiting_return, "pay_seller", S.closed, SYSTEM),
    # return_in_transit (待商家收货): the warehouse must receive.
    _t(S.return_in_transit, "receive", S.inspecting, ("warehouse", "admin"), branch="prepaid"),
    _t(S.return_in_transit, "receive", S.awaiting_return, ("warehouse", "admin"), branch="cod",
       kind="parcel_refused_cod"),
    _t(S.return_in_transit, "give_up_goods", S.refunding, AGENT, types={T.return_refund}),
    _t(S.return_in_transit, "give_up_goods", S.awaiting_reshipment, AGENT, types={T.exchange}),
    _t(S.return_in_transit, "confirm_receipt", S.refunding, SYSTEM, types={T.return_refund}),
    _t(S.return_in_transit, "confirm_receipt", S.awaiting_reshipment, SYSTEM, types={T.exchange}),
    # inspecting (验货中)
    _t(S.inspecting, "inspect", S.refunding, ("warehouse", "admin"), types={T.return_refund},
       branch="accept"),
    _t(S.inspecting, "inspect", S.awaiting_reshipment, ("warehouse", "admin"),
       types={T.exchange}, branch="accept"),
    _t(S.inspecting, "inspect", S.rejected, ("warehouse", "admin"), types=RETURNS,
       branch="refuse"),
    # awaiting_reshipment (待补发/待换货发出)
    _t(S.awaiting_reshipment, "reship", S.completed, ("warehouse", "agent", "admin")),
    # refunding (退款中): payment executes the ledger entries.
    _t(S.refunding, "refund_succeeded", S.completed, SYSTEM),
    _t(S.refunding, "mark_refunded", S.completed, ("finance", "admin"), guard="offline_pending"),
    _t(S.refunding, "refund_failed", S.refunding, SYSTEM),
    # rejected (商家已拒绝): the buyer may escalate or resubmit.
    _t(S.rejected, "escalate", S.disputed, BUYER, guard="escalation_open"),
    _t(S.rejected, "resubmit", S.requested, BUYER, guard="resubmission_allowed"),
    _t(S.rejected, "cancel", S.closed, BUYER),
    _t(S.rejected, "auto_close", S.closed, SYSTEM),
    # disputed (平台介入): the platform rules.
    _t(S.disputed, "rule", S.refunding, ("platform",), branch="buyer"),
    _t(S.disputed, "rule", S.closed, ("platform",), branch="merchant"),
    _t(S.disputed, "cancel", S.closed, BUYER),
    # flag_overdue changes no state: the case is marked late (PLATFORMS.md outcomes).
    *(_t(s, "flag_overdue", s, SYSTEM) for s in NON_TERMINAL),
)

# A deadline outcome is performed as this system action.
OUTCOME_ACTIONS: dict[str, str] = {
    "auto_approve": "approve",
    "auto_refund": "auto_refund",
    "auto_close": "auto_close",
    "auto_confirm_receipt": "confirm_receipt",
    "pay_seller": "pay_seller",
    "flag_overdue": "flag_overdue",
}

# Actions an outside party may ask for through the API (the rest are system-only).
PUBLIC_ACTIONS = frozenset(
    t.action for t in TABLE if t.roles - {Role.system}
)
ALL_ACTIONS = frozenset(t.action for t in TABLE)


def _index(key: str) -> dict[object, tuple[Transition, ...]]:
    """The table's rows by one field, in table order (the table stays the one source)."""
    out: dict[object, list[Transition]] = {}
    for t in TABLE:
        out.setdefault(getattr(t, key), []).append(t)
    return {k: tuple(v) for k, v in out.items()}


# Every action looks its rows up here: a scan of the whole table cost ~2% of an action.
_BY_ACTION = _index("action")
_BY_SOURCE = _index("source")


def candidates(state: State, action: str, case_type: CaseType, branch: str | None) -> list[Transition]:
    return [
        t for t in _BY_ACTION.get(action, ())
        if t.source == state and case_type in t.types and t.branch == branch
    ]


def find(state: State, action: str, case_type: CaseType, branch: str | None,
         role: Role) -> Transition:
    """The row for this move, or the reason there is none.

    The role is checked first: an action this role can never take is 403 in any state,
    and only an action the role may take elsewhere is "not now" (409)."""
    if not any(role in t.roles for t in _BY_ACTION.get(action, ())):
        raise Forbidden(f"role {role} may not {action} a case")
    rows = candidates(state, action, case_type, branch)
    if not rows:
        raise InvalidTransition(
            f"action {action!r} is not allowed for a {case_type} case in state {state}"
        )
    allowed = [t for t in rows if role in t.roles]
    if not allowed:
        raise Forbidden(f"role {role} may not {action} a case")
    return allowed[0]


def allowed_actions(state: State, case_type: CaseType, role: Role | None = None) -> list[str]:
    """Actions open from this state, for one role or any; the console shows only these."""
    seen: dict[str, None] = {}
    for t in _BY_SOURCE.get(state, ()):
        if case_type in t.types and (role is None or role in t.roles):
            seen.setdefault(t.action, None)
    return list(seen)


def mermaid() -> str:
    """The table as a mermaid state diagram (docs/ and the console draw this)."""
    lines = ["stateDiagram-v2", "    [*] --> requested"]
    edges: dict[tuple[State, State], list[str]] = {}
    for t in TABLE:
        if t.action == "flag_overdue":
            continue
        label = t.action + (f" ({t.branch})" if t.branch else "")
        edges.setdefault((t.source, t.target), [])
        if label not in edges[(t.source, t.target)]:
            edges[(t.source, t.target)].append(label)
    for (src, dst), labels in edges.items():
        lines.append(f"    {src} --> {dst}: {', '.join(labels)}")
    lines += ["    completed --> [*]", "    closed --> [*]"]
    return "\n".join(lines) + "\n"
