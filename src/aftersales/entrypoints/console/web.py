"""The console's plumbing: who is asking, in which language, CSRF, rendering, page errors.

Every page goes through `Desk.render` (autoescaped Jinja, strict security headers) and
every form post through `Desk.form` (CSRF checked first). Domain errors on a post become
a flash message in the person's language and a redirect back (post/redirect/get); on a
page they become an error page with the right status (another shop's case is a 404).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from aftersales.adapters.db.directory import directory_for
from aftersales.domain.errors import DomainError, Forbidden
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.console import i18n
from aftersales.entrypoints.console.sessions import (
    PRE_COOKIE,
    SESSION_COOKIE,
    Session,
    SessionStore,
)
from aftersales.entrypoints.console.signin import HashGate, SignInLimiter
from aftersales.service import desk
from aftersales.service.deps import Deps
from aftersales.service.errors import NotFound
from aftersales.service.ports import Principal

HERE = Path(__file__).parent
CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
       "style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
STAFF = frozenset({Role.admin, Role.agent, Role.warehouse, Role.finance})
R = TypeVar("R", bound=Response)


class PageError(Exception):
    """An error page: status and a message already in the reader's language."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class Redirect(Exception):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


@dataclass
class Ctx:
    """One request as the console sees it."""

    request: Request
    lang: i18n.Lang
    session: Session | None
    csrf: str
    pre_cookie: str | None  # set on the response when a new pre-session was made

    @property
    def principal(self) -> Principal:
        if self.session is None:
            raise Redirect("/login")
        return self.session.principal

    @property
    def role(self) -> Role | None:
        return None if self.session is None else self.session.principal.role

    def flash(self, kind: str, text: str) -> None:
        if self.session is not None:
            self.session.flash(kind, text)


class Desk:
    def __init__(self, deps: Deps, *, secret: str | None = None, secure_cookies: bool | None = None) -> None:
        self.deps = deps
        self.directory = directory_for
        self.sessions = SessionStore(deps, directory_for,
                                     secret or os.environ.get("AFTERSALES_SECRET_KEY"))
        self.limiter = SignInLimiter.from_env(deps, directory_for)
        self.hashing = HashGate.from_env()
        self.secure = (os.environ.get("AFTERSALES_SECURE_COOKIES") == "1"
                       if secure_cookies is None else secure_cookies)
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html", "htm", "xml"], default=True, default_for_string=True),
            trim_blocks=True, lstrip_blocks=True,
        )

    # --- the request -----------------------------------------------------------------------
    def ctx(self, request: Request) -> Ctx:
        """The request as the console sees it (blocking: the session is read from the
        database once per request; async routes use `actx`, `astaff`, `abuyer`)."""
        try:
            session: Session | None = request.state.console_session
        except AttributeError:  # not looked up yet in this request
            session = self.sessions.get(request.cookies.get(SESSION_COOKIE))
            request.state.console_session = session
        tz = "Asia/Shanghai"
        locale = i18n.pick(request.query_params.get("lang"), request.cookies.get(i18n.LANG_COOKIE),
                           request.headers.get("accept-language"))
        pre_cookie = None
        if session is not None:
            bound = session.id
            tz = session.data.get("timezone", tz)
        else:
            bound = self.sessions.pre_id(request.cookies.get(PRE_COOKIE)) or ""
            if not bound:
                pre_cookie = self.sessions.new_pre_cookie()
                bound = self.sessions.pre_id(pre_cookie) or ""
        return Ctx(request, i18n.Lang(locale, tz), session, self.sessions.csrf_token(bound), pre_cookie)

    def staff(self, request: Request, *roles: Role) -> Ctx:
        """A signed-in staff member with one of `roles` (admin may do everything staff does)."""
        ctx = self.ctx(request)
        if ctx.session is None or ctx.session.principal.role not in STAFF:
            raise Redirect("/login?next=" + _safe_next(request.url.path))
        if roles and ctx.session.principal.role not in (*roles, Role.admin):
            raise PageError(403, ctx.lang.gettext("Your role cannot open this page."))
        return ctx

    def buyer(self, request: Request) -> Ctx:
        ctx = self.ctx(request)
        if ctx.session is None or ctx.session.principal.role is not Role.buyer:
            raise PageError(401, ctx.lang.gettext("Open the link the shop sent you to sign in."))
        return ctx

    async def actx(self, request: Request) -> Ctx:
        return await run_in_threadpool(self.ctx, request)

    async def astaff(self, request: Request, *roles: Role) -> Ctx:
        return await run_in_threadpool(self.staff, request, *roles)

    async def abuyer(self, request: Request) -> Ctx:
        return await run_in_threadpool(self.buyer, request)

    async def aredirect(self, ctx: Ctx, url: str) -> Response:
        return await run_in_threadpool(self.redirect, ctx, url)

    async def form(self, request: Request, ctx: Ctx) -> FormData:
        """The posted form, once its CSRF token matched this session (or pre-session)."""
        form = await request.form()
        token = form.get("csrf") or request.headers.get("x-csrf-token")
        bound = ctx.session.id if ctx.session else self.sessions.pre_id(request.cookies.get(PRE_COOKIE))
        if not self.sessions.csrf_ok(bound, token if isinstance(token, str) else None):
            raise PageError(403, ctx.lang.gettext("This form has expired. Reload the page and try again."))
        return form

    # --- responses -------------------------------------------------------------------------
    def render(self, ctx: Ctx, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        L = ctx.lang
        session = ctx.session
        counts = {"near": 0, "overdue": 0}
        if session is not None and session.principal.role in STAFF and template != "error.html":
            with contextlib.suppress(DomainError):
                counts = desk.header_counts(self.deps, session.principal)
        page = self.env.get_template(template).render(
            L=L, _=L.gettext, label=L.label, money=L.money, dt=L.dt, left=L.left,
            csrf=ctx.csrf, session=session, role=ctx.role, counts=counts,
            flashes=session.take_flashes() if session else [],
            path=ctx.request.url.path, query=str(ctx.request.url.query), **values)
        resp = HTMLResponse(page, status_code=status)
        return self.finish(ctx, resp)

    def finish(self, ctx: Ctx, resp: R) -> R:
        """Every response's last step: headers, cookies, and the session written back if
        the request changed it (blocking)."""
        if ctx.session is not None:
            self.sessions.persist(ctx.session)
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers["Cache-Control"] = "no-store"
        if ctx.pre_cookie:
            self.set_cookie(resp, PRE_COOKIE, ctx.pre_cookie)
        lang_q = i18n.normalize(ctx.request.query_params.get("lang"))
        if lang_q:
            resp.set_cookie(i18n.LANG_COOKIE, lang_q, max_age=365 * 86400, samesite="lax",
                            secure=self.secure, path="/")
        return resp

    def set_cookie(self, resp: Response, name: str, value: str) -> None:
        resp.set_cookie(name, value, httponly=True, samesite="lax", secure=self.secure, path="/")

    def redirect(self, ctx: Ctx, url: str) -> Response:
        return self.finish(ctx, RedirectResponse(url, status_code=303))

    def error_text(self, L: i18n.Lang, exc: DomainError) -> str:
        """An error's words: the catalog's text for its code, and the detail it carries."""
        title = L.label("error", exc.code)
        return title if title == exc.message else f"{title}: {exc.message}"

    def fail(self, ctx: Ctx, exc: DomainError) -> NoReturn:
        if isinstance(exc, NotFound):
            raise PageError(404, ctx.lang.gettext("Not found."))
        if isinstance(exc, Forbidden):
            raise PageError(403, self.error_text(ctx.lang, exc))
        raise PageError(400, self.error_text(ctx.lang, exc))


def _safe_next(path: str) -> str:
    return path if path.startswith("/") and not path.startswith("//") else "/"


def safe_link(url: str | None) -> str | None:
    """Product links from platforms go in href only if they are http(s): no javascript: URLs."""
    if url and url.strip().lower().startswith(("http://", "https://")):
        return url.strip()
    return None


def form_str(form: FormData, name: str, default: str = "") -> str:
    """A text field, trimmed; NUL characters (which no browser form sends, and PostgreSQL
    text cannot hold) are dropped."""
    value = form.get(name)
    return value.replace("\x00", "").strip() if isinstance(value, str) else default


def form_list(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str)]


def form_bool(form: FormData, name: str) -> bool:
    return form_str(form, name) in ("1", "on", "true", "yes")


def uploads(form: FormData, name: str) -> Iterator[UploadFile]:
    for value in form.getlist(name):
        if isinstance(value, UploadFile) and value.filename:
            yield value
