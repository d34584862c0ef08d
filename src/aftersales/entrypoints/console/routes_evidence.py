"""Evidence files: uploads from staff and buyers, and serving them back inline, safely.

Files are typed and checked by their bytes (service/evidence.py); here they are served with
that type, `nosniff`, a sandboxing CSP and a disposition (inline only for images that
decode within bounds), so an uploaded file can never run as a page of the desk.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from aftersales.domain.errors import DomainError
from aftersales.entrypoints.console.web import Ctx, Desk, uploads
from aftersales.service import evidence


async def save_uploads(dk: Desk, ctx: Ctx, case_id: str, form: FormData,
                       field: str = "photos") -> int:
    count = 0
    for upload in uploads(form, field):
        data = await upload.read()
        if not data:
            continue
        try:  # the database work runs off the event loop
            await run_in_threadpool(evidence.add_evidence, dk.deps, ctx.principal, case_id, data,
                                    upload.filename)
            count += 1
        except DomainError as exc:
            ctx.flash("error", f"{upload.filename}: {dk.error_text(ctx.lang, exc)}")
    return count


def serve(dk: Desk, ctx: Ctx, case_id: str, evidence_id: str) -> Response:
    try:
        found = evidence.open_evidence(dk.deps, ctx.principal, case_id, evidence_id)
    except DomainError as exc:
        dk.fail(ctx, exc)
    return Response(found.data, media_type=found.content_type,
                    headers=evidence.evidence_headers(found, evidence_id))


def routes(dk: Desk) -> APIRouter:
    r = APIRouter()

    @r.post("/cases/{case_id}/evidence")
    async def upload(request: Request, case_id: str) -> Response:
        ctx = await dk.astaff(request)
        form = await dk.form(request, ctx)
        n = await save_uploads(dk, ctx, case_id, form)
        if n:
            ctx.flash("ok", ctx.lang.gettext("%(n)s files uploaded.", n=n))
        back = form.get("back")
        url = back if isinstance(back, str) and back.startswith("/") and not back.startswith("//") \
            else f"/cases/{case_id}"
        return await dk.aredirect(ctx, url + "#evidence")

    @r.get("/cases/{case_id}/evidence/{evidence_id}")
    def staff_file(request: Request, case_id: str, evidence_id: str) -> Response:
        return serve(dk, dk.staff(request), case_id, evidence_id)

    @r.post("/portal/cases/{case_id}/evidence")
    async def buyer_upload(request: Request, case_id: str) -> Response:
        ctx = await dk.abuyer(request)
        form = await dk.form(request, ctx)
        n = await save_uploads(dk, ctx, case_id, form)
        if n:
            ctx.flash("ok", ctx.lang.gettext("%(n)s files uploaded.", n=n))
        return await dk.aredirect(ctx, f"/portal/cases/{case_id}#evidence")

    @r.get("/portal/cases/{case_id}/evidence/{evidence_id}")
    def buyer_file(request: Request, case_id: str, evidence_id: str) -> Response:
        return serve(dk, dk.buyer(request), case_id, evidence_id)

    return r
