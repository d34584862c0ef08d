"""Signing in and out: staff by name and password, buyers by the link the shop sent them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from aftersales.domain.errors import DomainError
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.console import i18n
from aftersales.entrypoints.console.sessions import PRE_COOKIE, SESSION_COOKIE, Account
from aftersales.entrypoints.console.web import Ctx, Desk, PageError, form_str
from aftersales.service import desk as reads
from aftersales.service import shops, users
from aftersales.service.ports import Principal

HOME = {Role.admin: "/queue", Role.agent: "/queue", Role.warehouse: "/warehouse",
        Role.finance: "/finance", Role.buyer: "/portal"}


# Pages reached only by a form post: switching language there goes back to the start.
_POST_ONLY = ("/queue/batch", "/login", "/logout", "/switch")


def _is_get_page(path: str) -> bool:
    bare = path.split("?", 1)[0]
    return bare not in _POST_ONLY and "/act/" not in bare


def _next(value: str, role: Role) -> str:
    if value.startswith("/") and not value.startswith("//") and role is not Role.buyer:
        return value
    return HOME.get(role, "/")


def _start(desk: Desk, ctx: Ctx, accounts: list[Account], name: str, url: str) -> Response:
    """A brand-new session id at every sign-in; the old session (if any) is ended."""
    request = ctx.request
    desk.sessions.destroy(request.cookies.get(SESSION_COOKIE))
    timezone = reads.shop_info(desk.deps, accounts[0].shop_id)["timezone"]
    _, cookie = desk.sessions.create(accounts, name, {"timezone": timezone})
    ctx.pre_cookie = None
    resp = desk.redirect(ctx, url)
    desk.set_cookie(resp, SESSION_COOKIE, cookie)
    resp.delete_cookie(PRE_COOKIE, path="/")
    return resp


def _buyer(desk: Desk, ctx: Ctx, token: str) -> Principal:
    """The buyer a portal link's token names, or the page saying the link is not valid."""
    try:
        with desk.deps.uow() as uow:
            principal, _ = shops.authenticate(uow, token, desk.deps.clock.now())
    except DomainError:
        principal = None
    if principal is None or principal.role is not Role.buyer:
        raise PageError(401, ctx.lang.gettext("This link is not valid. Ask the shop for a new one."))
    return principal


def _busy(request: Request) -> Response:
    """429 for a sign-in the process has no room for (a flood): a line of text, no page."""
    locale = i18n.pick(request.query_params.get("lang"), request.cookies.get(i18n.LANG_COOKIE),
                       None)
    text = i18n.translations(locale).gettext("Too many sign-ins at once. Try again in a moment.")
    return PlainTextResponse(text, status_code=429, headers={"Retry-After": "1"})


def routes(desk: Desk) -> APIRouter:
    r = APIRouter()

    @r.get("/")
    def home(request: Request) -> Response:
        ctx = desk.ctx(request)
        if ctx.session is None:
            return desk.redirect(ctx, "/login")
        return desk.redirect(ctx, HOME.get(ctx.session.principal.role, "/login"))

    @r.get("/login")
    def login_page(request: Request, next: str = "") -> Response:
        ctx = desk.ctx(request)
        return desk.render(ctx, "login.html", next=next, error=None, username="")

    @r.post("/login")
    async def login(request: Request) -> Response:
        """Admitted (signin.py: the process's bound), counted (429 past a limit, before
        any hash), checked under the hash gate; then the session starts."""
        if desk.hashing.full():  # refused before it costs a session read or a page
            return _busy(request)
        ctx = await desk.actx(request)
        form = await desk.form(request, ctx)
        username, password = form_str(form, "username"), str(form.get("password") or "")
        nxt = form_str(form, "next")
        address = request.client.host if request.client else "?"

        def page(status: int, error: str, busy: bool = False) -> Response:
            resp = desk.render(ctx, "login.html", status=status, next=nxt, username=username,
                               error=ctx.lang.gettext(error))
            if status == 429:
                resp.headers["Retry-After"] = "1" if busy else str(
                    int(desk.limiter.window.total_seconds()))
            return resp

        async with desk.hashing.place() as placed:
            if not placed:  # as many sign-ins under way as the process takes: not counted
                return page(429, "Too many sign-ins at once. Try again in a moment.", busy=True)
            if not await run_in_threadpool(desk.limiter.admit, username, address):
                return page(429, "Too many failed sign-ins. Wait 5 minutes.")
            async with desk.hashing.check():
                found = await run_in_threadpool(users.sign_in, desk.deps, desk.directory,
                                                username, password)
        if not found:
            return page(401, "Wrong username or password.")

        def start() -> Response:  # database work off the event loop
            desk.limiter.forget(username, address)
            accounts = [Account(u.id, u.shop_id, reads.shop_info(desk.deps, u.shop_id)["name"],
                                u.principal) for u in found]
            return _start(desk, ctx, accounts, found[0].display_name, _next(nxt, found[0].role))
        return await run_in_threadpool(start)

    @r.post("/logout")
    async def logout(request: Request) -> Response:
        ctx = await desk.actx(request)
        await desk.form(request, ctx)

        def run() -> Response:  # database work off the event loop
            desk.sessions.destroy(request.cookies.get(SESSION_COOKIE))
            resp = desk.redirect(ctx, "/portal/bye" if ctx.role is Role.buyer else "/login")
            resp.delete_cookie(SESSION_COOKIE, path="/")
            return resp
        return await run_in_threadpool(run)

    @r.post("/switch")
    async def switch(request: Request) -> Response:
        ctx = await desk.astaff(request)
        form = await desk.form(request, ctx)

        def run() -> Response:  # database work off the event loop
            assert ctx.session is not None
            wanted = form_str(form, "shop")
            for i, acc in enumerate(ctx.session.accounts):
                if acc.shop_id == wanted:
                    ctx.session.current = i
                    ctx.session.data["timezone"] = reads.shop_info(desk.deps, acc.shop_id)["timezone"]
                    return desk.redirect(ctx, HOME.get(acc.principal.role, "/"))
            raise PageError(404, ctx.lang.gettext("Not found."))
        return await run_in_threadpool(run)

    @r.get("/portal/login")
    def portal_link(request: Request, token: str = "") -> Response:
        """The link a shop sends its buyer. Opening it signs nobody in — a GET that did
        would let any page sign a visitor into someone else's portal, ending their own
        session — it asks to continue, and the POST below signs in."""
        ctx = desk.ctx(request)
        principal = _buyer(desk, ctx, token)
        shop = reads.shop_info(desk.deps, principal.shop_id)
        who = None if ctx.session is None else ctx.session.display_name or None
        return desk.render(ctx, "portal_login.html", shop_name=shop["name"], token=token,
                           signed_in_as=who)

    @r.post("/portal/login")
    async def portal_login(request: Request) -> Response:
        ctx = await desk.actx(request)
        form = await desk.form(request, ctx)  # (checks the page's CSRF token)

        def run() -> Response:  # database work off the event loop
            principal = _buyer(desk, ctx, form_str(form, "token"))
            shop = reads.shop_info(desk.deps, principal.shop_id)
            account = Account(None, principal.shop_id, shop["name"], principal)
            return _start(desk, ctx, [account], principal.buyer_id or "", "/portal")
        return await run_in_threadpool(run)

    @r.get("/lang/{code}")
    def language(request: Request, code: str, next: str = "/") -> Response:
        """Switch language and go back to the page (GET pages only: a form is not re-sent)."""
        ctx = desk.ctx(request)
        locale = i18n.normalize(code) or i18n.DEFAULT
        back = next if next.startswith("/") and not next.startswith("//") else "/"
        if not _is_get_page(back):
            back = "/"
        resp = desk.redirect(ctx, back)
        resp.set_cookie(i18n.LANG_COOKIE, locale, max_age=365 * 86400, samesite="lax",
                        secure=desk.secure, path="/")
        return resp

    @r.get("/portal/bye")
    def bye(request: Request) -> Response:
        ctx = desk.ctx(request)
        return desk.render(ctx, "bye.html")

    return r
