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
