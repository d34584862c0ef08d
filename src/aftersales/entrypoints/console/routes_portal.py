"""The buyer portal: my orders, a new request with photos, following it, chat, return, rating."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from aftersales.domain.errors import DomainError
from aftersales.domain.money import Money
from aftersales.domain.vocabulary import CaseType, Reason, RefundMethod
from aftersales.entrypoints.console.actions import post_message, take
from aftersales.entrypoints.console.routes_evidence import save_uploads
from aftersales.entrypoints.console.web import Desk, form_str, safe_link
from aftersales.service import buyers, cases, desk
from aftersales.service.views import order_view


def routes(dk: Desk) -> APIRouter:
    r = APIRouter()

    @r.get("/portal")
    def home(request: Request) -> Response:
        ctx = dk.buyer(request)
        try:
            orders = [order_view(o) for o in buyers.my_orders(dk.deps, dk.directory, ctx.principal)]
            mine = buyers.my_cases(dk.deps, ctx.principal)
        except DomainError as exc:
            dk.fail(ctx, exc)
        return dk.render(ctx, "portal_home.html", orders=orders, cases=mine)

    @r.get("/portal/orders/{order_id}/new")
    def new_case(request: Request, order_id: str) -> Response:
        ctx = dk.buyer(request)
        try:
            order = order_view(buyers.my_order(dk.deps, ctx.principal, order_id))
        except DomainError as exc:
            dk.fail(ctx, exc)
        for ln in order["lines"]:
            ln["safe_link"] = safe_link(ln["link"])
        return dk.render(ctx, "portal_new.html", order=order, types=[t.value for t in CaseType],
                         reasons=[x.value for x in Reason], methods=[m.value for m in RefundMethod
                                                                    if m.value != "offline"])

    @r.post("/portal/orders/{order_id}/cases")
    async def open_case(request: Request, order_id: str) -> Response:
        ctx = await dk.abuyer(request)
        form = await dk.form(request, ctx)
        back = f"/portal/orders/{order_id}/new"

        def run() -> str:  # database work off the event loop; returns the new case id
            order = buyers.my_order(dk.deps, ctx.principal, order_id)
            lines = []
            for ln in order.lines:
                qty = form_str(form, f"qty_{ln.id}")
                if qty.isascii() and qty.isdigit() and int(qty) > 0:  # ("²".isdigit())
                    lines.append((ln.id, int(qty)))
            amount = form_str(form, "amount")
            data = cases.NewCase(
                order_id=order.id, type=form_str(form, "type"), reason=form_str(form, "reason"),
                lines=tuple(lines),
                requested_amount=Money.parse_major(amount, order.currency).amount if amount else None,
                refund_method=form_str(form, "refund_method") or None,
                description=form_str(form, "description"))
            return cases.open_case(dk.deps, ctx.principal, data).case.id

        try:
            case_id = await run_in_threadpool(run)
        except DomainError as exc:
            ctx.flash("error", dk.error_text(ctx.lang, exc))
            return await dk.aredirect(ctx, back)
        await save_uploads(dk, ctx, case_id, form, "photos")
        ctx.flash("ok", ctx.lang.gettext("Your request was sent to the shop."))
        return await dk.aredirect(ctx, f"/portal/cases/{case_id}")

    @r.get("/portal/cases/{case_id}")
    def case_page(request: Request, case_id: str) -> Response:
        ctx = dk.buyer(request)
        try:
            page = desk.case_page(dk.deps, ctx.principal, case_id)
        except DomainError as exc:
            dk.fail(ctx, exc)
        lines = {ln["id"]: ln for ln in page["order"]["lines"]}
        return dk.render(ctx, "portal_case.html", p=page, c=page["case"], lines=lines)

    @r.post("/portal/cases/{case_id}/act/{action}")
    async def act(request: Request, case_id: str, action: str) -> Response:
        ctx = await dk.abuyer(request)
        form = await dk.form(request, ctx)

        def run() -> Response:  # database work off the event loop
            return take(dk, ctx, case_id, action, form, f"/portal/cases/{case_id}")
        return await run_in_threadpool(run)

    @r.post("/portal/cases/{case_id}/messages")
    async def message(request: Request, case_id: str) -> Response:
        ctx = await dk.abuyer(request)
        form = await dk.form(request, ctx)
        back = f"/portal/cases/{case_id}#messages"
        return await run_in_threadpool(post_message, dk, ctx, case_id, form, back)

    @r.post("/portal/cases/{case_id}/rate")
    async def rate(request: Request, case_id: str) -> Response:
        ctx = await dk.abuyer(request)
        form = await dk.form(request, ctx)

        def run() -> Response:  # database work off the event loop
            stars = form_str(form, "stars")
            try:
                given = int(stars) if stars.isascii() and stars.isdigit() else 0  # ("²".isdigit())
                cases.rate(dk.deps, ctx.principal, case_id, given)
            except DomainError as exc:
                ctx.flash("error", dk.error_text(ctx.lang, exc))
                return dk.redirect(ctx, f"/portal/cases/{case_id}")
            ctx.flash("ok", ctx.lang.gettext("Thank you for your rating."))
            return dk.redirect(ctx, f"/portal/cases/{case_id}")
        return await run_in_threadpool(run)

    return r
