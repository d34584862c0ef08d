"""Agents (客服): the queue ordered by time left, batch approval, the case page and its actions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from aftersales.adapters.profiles import PLATFORMS
from aftersales.domain.errors import DomainError
from aftersales.domain.money import Money
from aftersales.domain.vocabulary import TERMINAL_STATES, CaseType, Reason, RefundMethod, Role, State
from aftersales.entrypoints.console.actions import post_message, post_nudge, take
from aftersales.entrypoints.console.web import Desk, form_bool, form_list, form_str, safe_link
from aftersales.service import cases, desk, queries, shops, upstream
from aftersales.service.ports import CaseFilter

# Reasons an agent may give for a rejection (the policy's reject rules, and "other").
REJECT_CODES = ("no_reason_window_passed", "excluded_from_no_reason", "used_or_damaged", "incomplete",
                "tags_removed", "seal_broken", "not_our_product", "packaging_only_flaw",
                "no_quality_problem", "electronics_tampered", "other")
QUICK_REPLIES = ("quick.received", "quick.need_photo", "quick.return_address", "quick.refund_done",
                 "quick.sorry")
OPEN_STATES = [s.value for s in State if s not in TERMINAL_STATES]


def _filter(request: Request) -> tuple[CaseFilter, dict[str, str]]:
    q = request.query_params
    values = {k: q.get(k, "").strip() for k in ("platform", "state", "type", "reason", "q", "overdue",
                                                  "cursor")}
    flt = CaseFilter(open_only=True, platform=values["platform"] or None,
                     state=values["state"] if values["state"] in OPEN_STATES else None,
                     type=values["type"] or None, reason=values["reason"] or None,
                     overdue=True if values["overdue"] == "1" else None, q=values["q"] or None,
                     cursor=values["cursor"] or None, limit=100)
    return flt, values


def batch_candidates(items: list[dict[str, Any]]) -> set[str]:
    return {c["id"] for c in items if c["type"] == "refund_only" and c["state"] == "requested"}


def routes(dk: Desk) -> APIRouter:
    r = APIRouter()

    @r.get("/queue")
    def queue(request: Request) -> Response:
        ctx = dk.staff(request, Role.agent)
        flt, values = _filter(request)
        try:
            items, cursor = queries.list_cases(dk.deps, ctx.principal, flt)
        except DomainError as exc:
            dk.fail(ctx, exc)
        # The store orders by deadline; overdue first (in red), then the least time left.
        items.sort(key=lambda c: (not c["overdue"], c["deadline"] is None,
                                  c["deadline"]["seconds_left"] if c["deadline"] else 0))
        return dk.render(ctx, "queue.html", items=items, cursor=cursor, f=values,
                         platforms=PLATFORMS, states=OPEN_STATES, types=[t.value for t in CaseType],
                         reasons=[x.value for x in Reason], batchable=batch_candidates(items))

    @r.get("/partials/counts")
    def counts(request: Request) -> Response:
        ctx = dk.staff(request)
        return dk.render(ctx, "_counts.html")

    @r.post("/queue/batch")
    async def batch(request: Request) -> Response:
        ctx = await dk.astaff(request, Role.agent)
        form = await dk.form(request, ctx)

        def run() -> Response:  # database work off the event loop
            L = ctx.lang
            ids = form_list(form, "case_id")[:200]
            try:
                limit = Money.parse_major(form_str(form, "max_amount") or "0", "CNY")
            except DomainError as exc:
                ctx.flash("error", dk.error_text(L, exc))
                return dk.redirect(ctx, "/queue")
            rows = []
            for case_id in ids:
                row: dict[str, Any] = {"id": case_id, "ok": False, "why": "", "plan": None, "case": None}
                try:
                    page = desk.case_page(dk.deps, ctx.principal, case_id)
                    c = row["case"] = page["case"]
                    amt = c["requested_amount"]
                    if c["type"] != "refund_only" or "approve" not in c["allowed_actions"]:
                        row["why"] = L.gettext("not a refund-only case waiting for approval")
                    elif amt["currency"] != limit.currency or amt["amount"] > limit.amount:
                        row["why"] = L.gettext("over the amount limit")
                    else:
                        row["plan"] = desk.preview(dk.deps, ctx.principal, case_id, "approve")
                        row["ok"] = True
                except DomainError as exc:
                    row["why"] = dk.error_text(L, exc)
                rows.append(row)
            if not form_bool(form, "confirm"):
                return dk.render(ctx, "batch.html", rows=rows, max_amount=form_str(form, "max_amount"))
            done = 0
            for row in rows:
                if not row["ok"]:
                    continue
                try:
                    cases.act(dk.deps, ctx.principal, row["id"], "approve")
                    done += 1
                except DomainError as exc:
                    ctx.flash("error", f"{row['id'][-8:]}: {dk.error_text(L, exc)}")
            ctx.flash("ok", L.gettext("Approved %(n)s cases.", n=done))
            return dk.redirect(ctx, "/queue")
        return await run_in_threadpool(run)

    @r.get("/cases/{case_id}")
    def case_page(request: Request, case_id: str) -> Response:
        ctx = dk.staff(request)
        try:
            page = desk.case_page(dk.deps, ctx.principal, case_id)
        except DomainError as exc:
            dk.fail(ctx, exc)
        lines = {ln["id"]: ln for ln in page["order"]["lines"]}
        for ln in lines.values():
            ln["safe_link"] = safe_link(ln["link"])
        claims = None  # upstream claims, only where the platform profile has the rule
        if dk.deps.profiles(page["case"]["platform"]).rule("upstream_claim") is not None \
                and ctx.role in (Role.agent, Role.admin, Role.finance):
            claims = upstream.list_claims(dk.deps, ctx.principal, case_id=case_id)
        return dk.render(ctx, "case.html", p=page, c=page["case"], lines=lines,
                         reject_codes=REJECT_CODES, quick=QUICK_REPLIES,
                         methods=[m.value for m in RefundMethod], buyer_link=None, claims=claims)

    @r.post("/cases/{case_id}/upstream-claims")
    async def open_claim(request: Request, case_id: str) -> Response:
        ctx = await dk.astaff(request, Role.agent)
        form = await dk.form(request, ctx)

        def run() -> Response:  # database work off the event loop
            try:
                page = desk.case_page(dk.deps, ctx.principal, case_id)
                currency = page["case"]["requested_amount"]["currency"]
                amount = Money.parse_major(form_str(form, "amount") or "0", currency)
                count = form_str(form, "evidence_count")
                upstream.open_claim(dk.deps, ctx.principal, case_id, form_str(form, "supplier"),
                                    form_str(form, "supplier_order_id"), amount.amount,
                                    form_str(form, "description"),
                                    int(count) if count.isascii() and count.isdigit() else 0)
                ctx.flash("ok", ctx.lang.gettext("Claim opened."))
            except DomainError as exc:
                ctx.flash("error", dk.error_text(ctx.lang, exc))
            return dk.redirect(ctx, f"/cases/{case_id}#upstream")
        return await run_in_threadpool(run)

    @r.post("/cases/{case_id}/act/{action}")
    async def act(request: Request, case_id: str, action: str) -> Response:
        ctx = await dk.astaff(request)
        form = await dk.form(request, ctx)

        def run() -> Response:  # database work off the event loop
            back = "/warehouse/cases/" + case_id if ctx.role is Role.warehouse else "/cases/" + case_id
            return take(dk, ctx, case_id, action, form, back)
        return await run_in_threadpool(run)

    @r.post("/cases/{case_id}/messages")
    async def message(request: Request, case_id: str) -> Response:
        ctx = await dk.astaff(request)
        form = await dk.form(request, ctx)
        return await run_in_threadpool(post_message, dk, ctx, case_id, form,
                                       f"/cases/{case_id}#messages")

    @r.post("/cases/{case_id}/nudge")
    async def nudge(request: Request, case_id: str) -> Response:
        ctx = await dk.astaff(request)
        form = await dk.form(request, ctx)
        return await run_in_threadpool(post_nudge, dk, ctx, case_id, form, f"/cases/{case_id}#actions")

    @r.post("/cases/{case_id}/buyer-link")
    async def buyer_link(request: Request, case_id: str) -> Response:
        """An admin makes a portal link for the case's buyer (a `buyer` token, shown once)."""
        ctx = await dk.astaff(request, Role.admin)
        await dk.form(request, ctx)

        def run() -> Response:  # database work off the event loop
            try:
                page = desk.case_page(dk.deps, ctx.principal, case_id)
                token = shops.create_token(dk.deps, ctx.principal.shop_id, "buyer", page["case"]["buyer_id"],
                                           label="console buyer link")
            except DomainError as exc:
                dk.fail(ctx, exc)
            link = str(request.base_url).rstrip("/") + "/portal/login?token=" + token
            lines = {ln["id"]: ln for ln in page["order"]["lines"]}
            for ln in lines.values():
                ln["safe_link"] = safe_link(ln["link"])
            return dk.render(ctx, "case.html", p=page, c=page["case"], lines=lines,
                             reject_codes=REJECT_CODES, quick=QUICK_REPLIES,
                             methods=[m.value for m in RefundMethod], buyer_link=link)
        return await run_in_threadpool(run)

    return r
