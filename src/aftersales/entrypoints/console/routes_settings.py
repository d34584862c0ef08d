"""Settings for the shop's admin: the merchant policy (as data) and the desk's staff accounts.

The policy is edited as the JSON document the API's PUT /shop/policy takes, and goes through
the same service call; a document that does not validate is shown back with the reason and
nothing is stored.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from aftersales.domain.errors import DomainError, InvalidInput
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.console.staff import STAFF_ROLES, create_user
from aftersales.entrypoints.console.web import Ctx, Desk, form_str
from aftersales.service import shops, users


def routes(dk: Desk) -> APIRouter:
    r = APIRouter()

    def page(ctx: Ctx, policy_text: str | None = None, error: str | None = None,
             status: int = 200) -> Response:
        shop = shops.get_shop(dk.deps, ctx.principal)
        staff = users.list_users(dk.deps, dk.directory, ctx.principal.shop_id)
        text = policy_text if policy_text is not None else json.dumps(
            shop["policy"], ensure_ascii=False, indent=2)
        return dk.render(ctx, "settings.html", status=status, shop=shop, policy_text=text,
                         policy_error=error, staff=staff, roles=STAFF_ROLES)

    @r.get("/settings")
    def settings(request: Request) -> Response:
        ctx = dk.staff(request, Role.admin)
        return page(ctx)

    @r.post("/settings/policy")
    async def save_policy(request: Request) -> Response:
        ctx = await dk.astaff(request, Role.admin)
        form = await dk.form(request, ctx)

        def run() -> Response:  # database work off the event loop
            text = form_str(form, "policy")
            try:
                data = json.loads(text)
                if not isinstance(data, dict):
                    raise InvalidInput("a policy is a JSON object", code="invalid_policy")
                shops.set_policy(dk.deps, ctx.principal, ctx.principal.shop_id, data)
            except json.JSONDecodeError as exc:
                return page(ctx, text, f"JSON: {exc.msg} (line {exc.lineno})", 422)
            except (RecursionError, ValueError):  # nested too deep; an integer of > 4300 digits
                return page(ctx, text, "JSON: nested too deeply or a number too long", 422)
            except DomainError as exc:
                return page(ctx, text, dk.error_text(ctx.lang, exc), 422)
            ctx.flash("ok", ctx.lang.gettext("Policy saved."))
            return dk.redirect(ctx, "/settings")
        return await run_in_threadpool(run)

    @r.post("/settings/users")
    async def add_user(request: Request) -> Response:
        ctx = await dk.astaff(request, Role.admin)
        form = await dk.form(request, ctx)

        def run() -> Response:  # argon2 and the database off the event loop
            try:
                create_user(dk.deps, ctx.principal.shop_id, form_str(form, "username"),
                            str(form.get("password") or ""), form_str(form, "role"),
                            form_str(form, "display_name") or None)
                ctx.flash("ok", ctx.lang.gettext("Account created."))
            except DomainError as exc:
                ctx.flash("error", dk.error_text(ctx.lang, exc))
            return dk.redirect(ctx, "/settings#staff")
        return await run_in_threadpool(run)

    return r
