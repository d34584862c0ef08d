"""What hangs off a case: evidence files, the message thread, the buyer's rating."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from aftersales.entrypoints.api.auth import current_principal
from aftersales.entrypoints.api.context import get_deps
from aftersales.entrypoints.api.idempotency import IdempotentRoute
from aftersales.entrypoints.api.present import case_response, checked_id
from aftersales.entrypoints.api.render import json_response
from aftersales.entrypoints.api.schemas.cases import CaseOut
from aftersales.entrypoints.api.schemas.common import error_responses
from aftersales.entrypoints.api.schemas.threads import (
    EvidenceList,
    EvidenceOut,
    MessageIn,
    MessageList,
    MessageOut,
    NudgeIn,
    RatingIn,
)
from aftersales.service.cases import add_message, rate
from aftersales.service.casework import load
from aftersales.service.deps import Deps
from aftersales.service.evidence import add_evidence, evidence_headers, list_evidence, open_evidence
from aftersales.service.nudges import nudge
from aftersales.service.ports import Principal

router = APIRouter(route_class=IdempotentRoute, tags=["evidence and messages"])
EVIDENCE_FIELDS = ("id", "kind", "content_type", "size", "filename", "uploaded_by", "at")


def _display_name(name: str | None) -> str | None:
    """The uploaded name is only ever displayed: drop what storage or a header cannot hold."""
    if not name:
        return None
    kept = "".join(ch for ch in name if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF)
    return kept[-255:] or None


def _evidence(row: dict[str, object]) -> dict[str, object]:
    return {k: row.get(k) for k in EVIDENCE_FIELDS}


@router.post("/cases/{case_id}/evidence", status_code=201, response_model=EvidenceOut,
             summary="Upload evidence (images, videos, PDFs; typed from the bytes, size-capped)",
             responses=error_responses(400, 401, 403, 404, 413, 415, 422))
async def upload_evidence(case_id: str, file: UploadFile = File(..., description="The file"),
                          deps: Deps = Depends(get_deps),
                          principal: Principal = Depends(current_principal)) -> Response:
    checked_id(case_id, "case")
    data = await file.read()
    row = await run_in_threadpool(add_evidence, deps, principal, case_id, data,
                                   _display_name(file.filename))
    return json_response(_evidence(row), 201)


@router.get("/cases/{case_id}/evidence", response_model=EvidenceList, summary="A case's evidence",
            responses=error_responses(401, 404))
def evidence_list(case_id: str, deps: Deps = Depends(get_deps),
                  principal: Principal = Depends(current_principal)) -> Response:
    rows = list_evidence(deps, principal, checked_id(case_id, "case"))
    return json_response({"items": [_evidence(r) for r in rows]})


@router.get("/cases/{case_id}/evidence/{evidence_id}", summary="The file itself",
            response_class=Response, responses={200: {"content": {
                "image/*": {}, "video/*": {}, "application/pdf": {}}}, **error_responses(401, 404)})
def evidence_file(case_id: str, evidence_id: str, deps: Deps = Depends(get_deps),
                  principal: Principal = Depends(current_principal)) -> Response:
    found = open_evidence(deps, principal, checked_id(case_id, "case"),
                          checked_id(evidence_id, "evidence"))
    return Response(found.data, media_type=found.content_type,
                    headers=evidence_headers(found, evidence_id))


@router.post("/cases/{case_id}/messages", status_code=201, response_model=MessageOut,
             summary="Add a message to the case's thread",
             responses=error_responses(400, 401, 404, 413, 422))
def post_message(case_id: str, body: MessageIn, deps: Deps = Depends(get_deps),
                 principal: Principal = Depends(current_principal)) -> Response:
    row = add_message(deps, principal, checked_id(case_id, "case"), body.body)
    return json_response(row, 201)


@router.get("/cases/{case_id}/messages", response_model=MessageList, summary="The thread",
            responses=error_responses(401, 404))
def read_messages(case_id: str, deps: Deps = Depends(get_deps),
                  principal: Principal = Depends(current_principal)) -> Response:
    checked_id(case_id, "case")
    with deps.uow() as uow:  # no service read for the thread yet: scope check, then read
        load(deps, uow, principal, case_id)
        rows = uow.records.messages(principal.shop_id, case_id)
    items = [{k: r.get(k) for k in ("id", "author", "body", "at")} for r in rows]
    return json_response({"items": items})


@router.post("/cases/{case_id}/rating", response_model=CaseOut,
             summary="The buyer rates the after-sales service, 1–5 stars",
             responses=error_responses(400, 401, 403, 404, 413, 422))
def post_rating(case_id: str, body: RatingIn, deps: Deps = Depends(get_deps),
                principal: Principal = Depends(current_principal)) -> Response:
    loaded = rate(deps, principal, checked_id(case_id, "case"), body.stars)
    return case_response(deps, principal, loaded)


@router.post("/cases/{case_id}/nudge", response_model=CaseOut,
             summary="Remind the warehouse or finance that the case waits on them",
             responses=error_responses(400, 401, 403, 404, 409, 413, 422))
def post_nudge(case_id: str, body: NudgeIn, deps: Deps = Depends(get_deps),
               principal: Principal = Depends(current_principal)) -> Response:
    loaded = nudge(deps, principal, checked_id(case_id, "case"), body.note)
    return case_response(deps, principal, loaded)
