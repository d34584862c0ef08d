"""What the policy advises on a case now (the read side): the case view shows it and an
opening asks it whether to approve at once. Kept apart from service/cases.py so the views
read it without importing the commands (no cases <-> views cycle)."""

from __future__ import annotations

from datetime import datetime

from aftersales.domain.policy import InspectionFacts, PolicyInput, Recommendation, evaluate
from aftersales.domain.vocabulary import REASONS, EvidenceKind
from aftersales.service.casework import Loaded
from aftersales.service.repositories import UnitOfWork


def recommend(uow: UnitOfWork, loaded: Loaded, now: datetime) -> Recommendation:
    case = loaded.case
    policy = loaded.shop.policy
    # Only ask the database what a rule will actually look at.
    kinds: frozenset[EvidenceKind] = frozenset()
    if REASONS[case.reason].evidence and policy.require_evidence:
        kinds = frozenset(_evidence_kind(e) for e in uow.evidence.evidence(case.shop_id, case.id))
    history = 0
    if policy.counts_buyer_cases:
        history = uow.cases.buyer_case_count(case.shop_id, case.buyer_id) - 1
    insp = case.inspection
    facts = None if insp is None else InspectionFacts(
        insp.condition, insp.sku_matches, insp.accessories_complete, insp.gifts_returned,
        insp.tags_intact, insp.seal_intact, insp.packaging_only_flaw, insp.quality_problem_found)
    return evaluate(PolicyInput(
        case.type, case.reason, tuple((ln.line_id, ln.quantity) for ln in case.lines),
        case.requested_amount, loaded.order, loaded.profile, loaded.shop.policy, now,
        loaded.shop.shop.timezone, case.state, kinds, facts,
        buyer_cases=history,
        resubmissions=case.resubmissions,
        applied_at=case.opened_at,
    ))


def _evidence_kind(row: dict[str, object]) -> EvidenceKind:
    try:
        return EvidenceKind(str(row.get("kind")))
    except ValueError:
        return EvidenceKind.other
