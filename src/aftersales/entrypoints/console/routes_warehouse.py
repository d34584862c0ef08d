"""Warehouse (仓库): a scan screen for a barcode scanner, the inspection checklist, unmatched parcels.

A scanner types the waybill and presses Enter, so the scan field has the focus on every
load and a plain form post does the rest: a match opens the case, an unknown waybill is
kept as an unmatched parcel to attach later.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from aftersales.domain.errors import DomainError
from aftersales.domain.vocabulary import Condition, Disposition, Role
from aftersales.entrypoints.console.actions import take
from aftersales.entrypoints.console.routes_evidence import save_uploads
from aftersales.entrypoints.console.web import Desk, form_str
from aftersales.service import desk, parcels, queries
from aftersales.service.ports import CaseFilter


def routes(dk: Desk) -> APIRouter:
    r = APIRouter()

    @r.get("/warehouse")
    def scan_screen(request: Request) -> Response:
        ctx = dk.staff(request, Role.warehouse)
        try:
            recent = parcels.list_parcels(dk.deps, ctx.principal)[:15]
        except DomainError as exc:
            dk.fail(ctx, exc)
        return dk.render(ctx, "warehouse.html", recent=recent)

    @r.post("/warehouse/scan")
    async def scan(request: Request) -> Response:
        ctx = await dk.astaff(request, Role.warehouse)
        form = await dk.form(request, ctx)

        def run() -> Response:  # database work off the event loop
            L = ctx.lang
            waybill = form_str(form, "waybill")
            try:
                loaded = parcels.scan(dk.deps, ctx.principal, waybill, form_str(form, "carrier") or None)
            except DomainError as exc:
                ctx.flash("error", dk.error_text(L, exc))
                return dk.redirect(ctx, "/warehouse")
            if loaded is None:
                ctx.flash("warn", L.gettext("Unknown waybill %(w)s: kept as an unmatched parcel.", w=waybill))
                return dk.redirect(ctx, "/warehouse")
            return dk.redirect(ctx, f"/warehouse/cases/{loaded.case.id}")
        return await run_in_threadpool(run)

    @r.get("/warehouse/cases/{case_id}")
    def case_screen(request: Request, case_id: str) -> Response:
        ctx = dk.staff(request, Role.warehouse)
        try:
            page = desk.case_page(dk.deps, ctx.principal, case_id)
        except DomainError as exc:
            dk.fail(ctx, exc)
        lines = {ln["id"]: ln for ln in page["order"]["lines"]}
        return dk.render(ctx, "inspect.html", p=page, c=page["case"], lines=lines,
                         conditions=[c.value for c in Condition],
                         dispositions=[d.value for d in Disposition])

    @r.post("/warehouse/cases/{case_id}/act/{action}")
    async def act(request: Request, case_id: str, action: str) -> Response:
        ctx = await dk.astaff(request, Role.warehouse)
        form = await dk.form(request, ctx)
        if action == "inspect":
            await save_uploads(dk, ctx, case_id, form, "photos")
        return await run_in_threadpool(take, dk, ctx, case_id, action, form,
                                       f"/warehouse/cases/{case_id}")

    @r.get("/warehouse/parcels")
    def unmatched(request: Request) -> Response:
        ctx = dk.staff(request, Role.warehouse, Role.agent)
        try:
            rows = parcels.list_parcels(dk.deps, ctx.principal, "unmatched")
            waiting, _ = queries.list_cases(dk.deps, ctx.principal, CaseFilter(
                states=["awaiting_return", "return_in_transit"], limit=200))
        except DomainError as exc:
            dk.fail(ctx, exc)
        return dk.render(ctx, "parcels.html", rows=rows, waiting=waiting)

    @r.post("/warehouse/parcels/{parcel_id}/attach")
    async def attach(request: Request, parcel_id: str) -> Response:
        ctx = await dk.astaff(request, Role.warehouse, Role.agent)
        form = await dk.form(request, ctx)

        def run() -> Response:  # database work off the event loop
            case_id = form_str(form, "case_id")
            try:
                parcels.attach(dk.deps, ctx.principal, parcel_id, case_id)
            except DomainError as exc:
                ctx.flash("error", dk.error_text(ctx.lang, exc))
                return dk.redirect(ctx, "/warehouse/parcels")
            ctx.flash("ok", ctx.lang.gettext("Parcel attached."))
            return dk.redirect(ctx, f"/warehouse/cases/{case_id}")
        return await run_in_threadpool(run)

    return r
