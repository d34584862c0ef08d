"""Dashboard: the measures for a period (drawn by Chart.js), the workflow, the sandbox clock."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from aftersales.adapters.profiles import load_all
from aftersales.domain.clock import EARLIEST_YEAR, LATEST_YEAR
from aftersales.domain.errors import DomainError
from aftersales.domain.transitions import mermaid
from aftersales.domain.vocabulary import Reason, Role, State
from aftersales.entrypoints.console.web import Desk, form_str
from aftersales.service import desk, reports, timers


def _day(text: str, default: date) -> date:
    """A day from the form, or `default` for one that is not a date or lies outside the
    years a time may fall in (year 1 or 9999 would leave the calendar in the shop's zone)."""
    try:
        day = date.fromisoformat(text) if text else default
    except ValueError:
        return default
    return day if EARLIEST_YEAR <= day.year <= LATEST_YEAR else default


def chart_data(s: dict[str, Any], label: Any) -> dict[str, Any]:
    """Only numbers and translated labels go to the browser, as JSON the page script reads."""
    days = list(s["cases_per_day"])
    reasons = [x.value for x in Reason if any(x.value in v for v in s["cases_per_day"].values())]
    return {
        "days": days,
        "per_reason": [{"label": label("reason", r), "data": [s["cases_per_day"][d].get(r, 0) for d in days]}
                       for r in reasons],
        "rates": {"labels": [label("measure", k) for k in ("refund_rate", "return_rate", "timeout_share",
                                                           "dispute_lost_share", "loss_share")],
                  "data": [round(100 * v, 2) for v in (s["refund_rate"], s["return_rate"],
                                                       s["timeouts"]["share"], s["disputes"]["share_lost"],
                                                       s["loss"]["share_of_sales"])]},
        "loss": {"labels": [label("kind", k) for k in ("goods", "freight", "compensation")],
                 "data": [s["loss"].get(k, 0) / 100 for k in ("goods", "freight", "compensation")]},
        "timeouts": {"labels": [label("outcome", k) for k in s["timeouts"]["by_outcome"]],
                     "data": list(s["timeouts"]["by_outcome"].values())},
    }


def routes(dk: Desk) -> APIRouter:
    r = APIRouter()

    @r.get("/dashboard")
    def dashboard(request: Request) -> Response:
        ctx = dk.staff(request, Role.agent, Role.finance)
        tz = ZoneInfo(ctx.lang.timezone)
        today = datetime.now(tz).date()
        start = _day(request.query_params.get("from", ""), today - timedelta(days=29))
        end = _day(request.query_params.get("to", ""), today)
        if end < start:
            start, end = end, start
        try:
            s = reports.summary(dk.deps, ctx.principal, datetime.combine(start, time(0), tz),
                                datetime.combine(end + timedelta(days=1), time(0), tz))
        except DomainError as exc:
            dk.fail(ctx, exc)
        charts = json.dumps(chart_data(s, ctx.lang.label), ensure_ascii=False).replace("<", "\\u003c")
        return dk.render(ctx, "dashboard.html", s=s, start=start.isoformat(), end=end.isoformat(),
                         charts=charts)

    @r.get("/workflow")
    def workflow(request: Request) -> Response:
        ctx = dk.staff(request)
        return dk.render(ctx, "workflow.html", diagram=mermaid(), states=[s.value for s in State],
                         profiles=load_all())

    @r.get("/clock")
    def clock(request: Request) -> Response:
        ctx = dk.staff(request, Role.admin)
        shop = desk.shop_info(dk.deps, ctx.principal.shop_id)
        fired = ctx.session.data.pop("fired", None) if ctx.session else None
        return dk.render(ctx, "clock.html", shop=shop, fired=fired)

    @r.post("/clock")
    async def advance(request: Request) -> Response:
        ctx = await dk.astaff(request, Role.admin)
        form = await dk.form(request, ctx)

        def run() -> Response:  # database work off the event loop
            amount, unit = form_str(form, "amount"), form_str(form, "unit")
            fired = None
            try:
                if unit not in ("h", "d") or not (amount.isascii() and amount.isdigit()):
                    raise DomainError("amount and unit", code="invalid_duration")
                _, done = timers.advance_clock(dk.deps, ctx.principal, by=f"{amount}{unit}")
                fired = [{"case_id": f.case_id, "outcome": f.outcome, "at": f.at.astimezone(UTC).isoformat()}
                         for f in done]
            except DomainError as exc:
                ctx.flash("error", dk.error_text(ctx.lang, exc))
            if ctx.session is not None and fired is not None:
                ctx.session.data["fired"] = fired  # shown once by the page we redirect to
            return dk.redirect(ctx, "/clock")
        return await run_in_threadpool(run)

    return r
