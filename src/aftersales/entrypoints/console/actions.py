"""Taking an action from any console page: parse, preview money, confirm, then the one write path."""

from __future__ import annotations

from fastapi.responses import Response
from starlette.datastructures import FormData

from aftersales.domain.errors import DomainError
from aftersales.entrypoints.console import forms
from aftersales.entrypoints.console.web import Ctx, Desk, form_bool, form_str
from aftersales.service import cases, desk, nudges


def take(dk: Desk, ctx: Ctx, case_id: str, action: str, form: FormData, back: str) -> Response:
    """Money actions render a preview first and run only once the person confirmed it."""
    L = ctx.lang
    try:
        page = desk.case_page(dk.deps, ctx.principal, case_id)
    except DomainError as exc:
        dk.fail(ctx, exc)
    case = page["case"]
    if action not in case["allowed_actions"]:
        ctx.flash("error", dk.error_text(L, _invalid(action)))
        return dk.redirect(ctx, back)
    line_ids = [ln["line_id"] for ln in case["lines"]]
    try:
        req = forms.action_request(action, form, case["requested_amount"]["currency"], line_ids)
        if action in desk.MONEY_ACTIONS and not form_bool(form, "confirm"):
            plan = desk.preview(dk.deps, ctx.principal, case_id, action, req)
            if plan is not None:
                return dk.render(ctx, "confirm.html", case=case, action=action, plan=plan,
                                 fields=forms.carried(form), back=back,
                                 post_to=ctx.request.url.path)
        loaded = cases.act(dk.deps, ctx.principal, case_id, action, req)
    except DomainError as exc:
        ctx.flash("error", dk.error_text(L, exc))
        return dk.redirect(ctx, back)
    # Name what happened (a refused COD parcel is not "received"), from the event it wrote.
    moves = [e.kind for e in loaded.case.events if e.from_state != e.to_state or e.kind == action]
    what = L.label("event", moves[0]) if moves else L.label("action", action)
    ctx.flash("ok", L.gettext("Done: %(action)s", action=what))
    return dk.redirect(ctx, back)


def _invalid(action: str) -> DomainError:
    from aftersales.domain.errors import InvalidTransition

    return InvalidTransition(f"{action} is not open to you in this state")


def post_message(dk: Desk, ctx: Ctx, case_id: str, form: FormData, back: str) -> Response:
    """A message in the case's thread, from staff or the buyer; errors come back as a flash."""
    try:
        cases.add_message(dk.deps, ctx.principal, case_id, form_str(form, "body"))
    except DomainError as exc:
        ctx.flash("error", dk.error_text(ctx.lang, exc))
    return dk.redirect(ctx, back)


def post_nudge(dk: Desk, ctx: Ctx, case_id: str, form: FormData, back: str) -> Response:
    """Remind whoever the case waits on (warehouse, finance); errors come back as a flash."""
    try:
        nudges.nudge(dk.deps, ctx.principal, case_id, form_str(form, "note"))
        ctx.flash("ok", ctx.lang.gettext("Reminder sent."))
    except DomainError as exc:
        ctx.flash("error", dk.error_text(ctx.lang, exc))
    return dk.redirect(ctx, back)
