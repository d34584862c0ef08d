"""Finance (财务): the refund ledger with filters and totals, offline refunds to confirm, CSV."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from aftersales.domain.errors import DomainError
from aftersales.domain.money import Money
from aftersales.domain.vocabulary import LedgerKind, RefundMethod, Role
from aftersales.entrypoints.console.actions import take
from aftersales.entrypoints.console.web import Desk, form_str
from aftersales.service import desk, queries, upstream

FIELDS = ("id", "case_id", "order_id", "kind", "amount", "currency", "method", "status", "reference",
          "at", "settled_at")


def _filtered(rows: list[dict[str, Any]], q: dict[str, str]) -> list[dict[str, Any]]:
    def keep(e: dict[str, Any]) -> bool:
        day = (e["at"] or "")[:10]
        return all((
            not q["method"] or e["method"] == q["method"],
            not q["kind"] or e["kind"] == q["kind"],
            not q["status"] or e["status"] == q["status"],
            not q["from"] or day >= q["from"],
            not q["to"] or day <= q["to"],
            not q["case"] or q["case"] in (e["case_id"], e["order_id"]),
        ))
    return sorted((e for e in rows if keep(e)), key=lambda e: e["at"] or "", reverse=True)


def totals(rows: list[dict[str, Any]]) -> dict[str, dict[tuple[str, str], int]]:
    """Sums per method and per kind, each per currency (never added across currencies)."""
    out: dict[str, dict[tuple[str, str], int]] = {"method": defaultdict(int), "kind": defaultdict(int)}
    for e in rows:
        if e["status"] == "failed":
            continue
        cur = e["amount"]["currency"]
        out["method"][(e["method"], cur)] += e["amount"]["amount"]
        out["kind"][(e["kind"], cur)] += e["amount"]["amount"]
    return out


def _cell(value: Any) -> str:
    """Spreadsheet-safe: a cell that starts like a formula is quoted (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def routes(dk: Desk) -> APIRouter:
    r = APIRouter()

    def _query(request: Request) -> dict[str, str]:
        return {k: request.query_params.get(k, "").strip()
                for k in ("method", "kind", "status", "from", "to", "case")}

    @r.get("/finance")
    def ledger(request: Request) -> Response:
        ctx = dk.staff(request, Role.finance)
        q = _query(request)
        try:
            everything = queries.list_refunds(dk.deps, ctx.principal)
        except DomainError as exc:
            dk.fail(ctx, exc)
        rows = _filtered(everything, q)
        offline = [e for e in everything if e["method"] == "offline" and e["status"] == "pending"]
        return dk.render(ctx, "finance.html", rows=rows, q=q, totals=totals(rows), offline=offline,
                         methods=[m.value for m in RefundMethod], kinds=[k.value for k in LedgerKind],
                         statuses=("pending", "succeeded", "failed"), upstream=_upstream(ctx))

    def _upstream(ctx: Any) -> dict[str, Any] | None:
        """Claims on suppliers, for shops whose platform profile has the dropshipping rule."""
        shop = desk.shop_info(dk.deps, ctx.principal.shop_id)
        if dk.deps.profiles(shop["platform"]).rule("upstream_claim") is None:
            return None
        return {"report": upstream.unrecovered(dk.deps, ctx.principal),
                "claims": upstream.list_claims(dk.deps, ctx.principal)}

    @r.post("/finance/claims/{claim_id}/recovery")
    async def recovery(request: Request, claim_id: str) -> Response:
        ctx = await dk.astaff(request, Role.finance)
        form = await dk.form(request, ctx)

        def run() -> Response:  # database work off the event loop
            try:
                claim = upstream.get_claim(dk.deps, ctx.principal, claim_id)
                currency = claim["amount"]["currency"]
                amount = Money.parse_major(form_str(form, "amount") or "0", currency)
                upstream.record_recovery(dk.deps, ctx.principal, claim_id, amount.amount, currency)
                ctx.flash("ok", ctx.lang.gettext("Recovery recorded."))
            except DomainError as exc:
                ctx.flash("error", dk.error_text(ctx.lang, exc))
            return dk.redirect(ctx, "/finance#upstream")
        return await run_in_threadpool(run)

    @r.get("/finance/export.csv")
    def export(request: Request) -> Response:
        ctx = dk.staff(request, Role.finance)
        try:
            rows = _filtered(queries.list_refunds(dk.deps, ctx.principal), _query(request))
        except DomainError as exc:
            dk.fail(ctx, exc)
        buf = io.StringIO()
        out = csv.writer(buf)
        out.writerow(FIELDS)
        for e in rows:
            out.writerow([_cell(x) for x in (
                e["id"], e["case_id"], e["order_id"], e["kind"], e["amount"]["amount"],
                e["amount"]["currency"], e["method"], e["status"], e["reference"], e["at"],
                e["settled_at"])])
        name = f"refunds-{datetime.now().strftime('%Y%m%d-%H%M')}.csv"
        return dk.finish(ctx, Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                                       headers={"Content-Disposition": f'attachment; filename="{name}"'}))

    @r.post("/finance/cases/{case_id}/mark_refunded")
    async def mark(request: Request, case_id: str) -> Response:
        ctx = await dk.astaff(request, Role.finance)
        form = await dk.form(request, ctx)

        def run() -> Response:  # database work off the event loop
            return take(dk, ctx, case_id, "mark_refunded", form, "/finance")
        return await run_in_threadpool(run)

    return r
