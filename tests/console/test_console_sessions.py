"""The desk's sessions live in the database: two server processes are two apps on one file.

Each `Desk` here stands for one process of `aftersales serve --workers N`: nothing passes
between them but the database (the end-to-end test runs two real processes too).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import select

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from aftersales.adapters.db import tables as t
from aftersales.adapters.db.directory import directory_for
from aftersales.entrypoints.bootstrap import App
from aftersales.entrypoints.console import Desk, mount_console
from aftersales.entrypoints.console.sample import PASSWORD, Sample
from aftersales.entrypoints.console.sessions import SESSION_COOKIE
from console.console_helpers import csrf_of, sign_in


def _process(app: App, secret: str | None = None) -> tuple[TestClient, Desk]:
    web = FastAPI()
    desk = mount_console(web, app.deps, secret=secret)
    return TestClient(web, follow_redirects=False), desk


@pytest.fixture
def two(world: tuple[App, Sample], monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[tuple[TestClient, TestClient]]:
    """Two desks without a configured key: they must agree on one through the database."""
    monkeypatch.delenv("AFTERSALES_SECRET_KEY", raising=False)
    (a, _), (b, _) = _process(world[0]), _process(world[0])
    with a, b:
        yield a, b


def test_a_session_made_by_one_process_is_good_in_the_other(two: tuple[TestClient, TestClient]
                                                            ) -> None:
    a, b = two
    sign_in(a, "agent")
    b.cookies.update(a.cookies)
    page = b.get("/queue")
    assert page.status_code == 200
    token = csrf_of(page.text)  # the CSRF token of the other process works too
    assert a.post("/logout", data={"csrf": token}).status_code == 303
    assert b.get("/queue").headers["location"].startswith("/login")


def test_a_flash_message_survives_the_hop_and_shows_once(two: tuple[TestClient, TestClient]
                                                         ) -> None:
    """What a request changes (here the flash it leaves) is written back, so the next page
    — served by the other process — shows it, and the one after that no more."""
    a, b = two
    token = sign_in(a, "agent")
    b.cookies.update(a.cookies)
    posted = a.post("/queue/batch", data={"csrf": token, "confirm": "1"})  # "Approved 0 cases."
    assert posted.status_code == 303
    assert 'class="flash' in b.get(posted.headers["location"]).text
    assert 'class="flash' not in a.get(posted.headers["location"]).text


def test_the_database_holds_no_usable_cookie(client: TestClient, world: tuple[App, Sample]
                                             ) -> None:
    sign_in(client, "agent")
    cookie = client.cookies[SESSION_COOKIE]
    sid = cookie.rsplit(".", 2)[0]
    with world[0].engine.connect() as conn:
        keys = conn.execute(select(t.console_sessions.c.key)).scalars().all()
    assert keys == [hashlib.sha256(sid.encode()).hexdigest()]
    assert all(sid not in key and cookie not in key for key in keys)


def test_failed_sign_ins_count_across_processes(two: tuple[TestClient, TestClient]) -> None:
    a, b = two
    for attempt in range(5):
        client = (a, b)[attempt % 2]
        resp = client.post("/login", data={"csrf": csrf_of(client.get("/login").text),
                                           "username": "agent", "password": "wrong"})
        assert resp.status_code == 401
    for client in (a, b):
        resp = client.post("/login", data={"csrf": csrf_of(client.get("/login").text),
                                           "username": "agent", "password": PASSWORD})
        assert resp.status_code == 429


def test_a_configured_key_wins_over_the_stored_one(world: tuple[App, Sample],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """AFTERSALES_SECRET_KEY set: cookies signed with another key (say, the one stored for
    processes started without it) are refused."""
    monkeypatch.delenv("AFTERSALES_SECRET_KEY", raising=False)
    stored, _ = _process(world[0])
    configured, _ = _process(world[0], secret="configured-key")
    with stored, configured:
        sign_in(stored, "agent")
        configured.cookies.update(stored.cookies)
        assert configured.get("/queue").headers["location"].startswith("/login")


def test_two_requests_of_one_session_at_once_keep_both_changes(world: tuple[App, Sample]
                                                               ) -> None:
    """Two tabs: one switches the shop, the other leaves a flash message; each request
    read the session before the other wrote it. Both changes stay."""
    from aftersales.domain.vocabulary import Role
    from aftersales.entrypoints.console.sessions import Account, SessionStore
    from aftersales.service.ports import Principal

    store = SessionStore(world[0].deps, directory_for, "test-secret")
    accounts = [Account(None, shop, f"店 {shop}", Principal(shop, Role.agent, None, "a1"))
                for shop in ("shop-a", "shop-b")]
    _, cookie = store.create(accounts, "林", {"timezone": "Asia/Shanghai"})
    switching, flashing = store.get(cookie), store.get(cookie)
    assert switching is not None and flashing is not None
    switching.current = 1
    switching.data["timezone"] = "Asia/Hong_Kong"
    flashing.flash("ok", "已保存")
    store.persist(switching)
    store.persist(flashing)
    after = store.get(cookie)
    assert after is not None and after.current == 1
    assert after.data["timezone"] == "Asia/Hong_Kong" and after.flashes == [("ok", "已保存")]
    after.take_flashes()
    store.persist(after)
    again = store.get(cookie)
    assert again is not None and again.flashes == [] and again.current == 1


@pytest.mark.postgres
def test_sign_in_limits_count_any_name_length_on_postgresql() -> None:
    """Sign-in attempts are counted by a hash of the name and of the address (a fixed 64
    characters): a 5,000-character username is counted like any other, not a database
    error; the name's limit holds from any address, the address's for any name."""
    from aftersales.entrypoints.bootstrap import bootstrap
    from aftersales.entrypoints.console.signin import SignInLimiter
    from conftest import migrated_engine, postgres_database

    with postgres_database() as url, migrated_engine(url) as engine:
        limiter = SignInLimiter(bootstrap(engine=engine).deps, directory_for, per_name=3,
                                per_address=5)
        name = "x" * 5000
        assert [limiter.admit(name, f"203.0.113.{i}") for i in range(4)] == [True] * 3 + [False]
        assert limiter.admit("other", "203.0.113.0")  # that address's second attempt
        assert [limiter.admit(f"n{i}", "198.51.100.7") for i in range(6)] == [True] * 5 + [False]
        limiter.forget("other", "203.0.113.0")  # a sign-in that worked takes its attempt back
        assert [limiter.admit("other", "203.0.113.50") for _ in range(3)] == [True] * 3


def test_a_nul_character_in_a_form_field_is_dropped() -> None:
    """Browsers never send one, PostgreSQL text cannot hold one: the field loses it."""
    from starlette.datastructures import FormData

    from aftersales.entrypoints.console.web import form_str

    assert form_str(FormData([("note", " ok\x00 then ")]), "note") == "ok then"
