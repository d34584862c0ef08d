"""Security of the console: CSRF, tenancy, escaping, sessions, sign-in limits, cookie flags."""

from __future__ import annotations

from fastapi.testclient import TestClient

from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.console.sample import PASSWORD
from aftersales.service import cases
from aftersales.service.ports import Principal
from console.console_helpers import buyer_in, csrf_of, sign_in


def test_post_without_or_with_a_wrong_csrf_token_is_refused(client, world) -> None:
    sample = world[1]
    case_id = sample.other_case_ids[0]
    assert client.post("/login", data={"username": "agent", "password": PASSWORD}).status_code == 403
    sign_in(client, "agent")
    for data in ({"body": "csrf-probe"}, {"body": "csrf-probe", "csrf": "0" * 64}):
        resp = client.post(f"/cases/{case_id}/messages", data=data)
        assert resp.status_code == 403
    assert "csrf-probe" not in client.get(f"/cases/{case_id}").text
    resp = client.post(f"/cases/{case_id}/act/approve", data={"confirm": "1"})
    assert resp.status_code == 403
    assert "待商家处理" in client.get(f"/cases/{case_id}").text


def test_a_token_from_another_session_does_not_work(client, desk_app) -> None:
    token_a = sign_in(client, "agent")
    other = TestClient(desk_app[0], follow_redirects=False)
    sign_in(other, "agent")
    assert other.post("/logout", data={"csrf": token_a}).status_code == 403


def test_another_shops_case_is_not_found(client, world) -> None:
    sample = world[1]
    token = sign_in(client, "admin")
    foreign = sample.other_shop_case_id
    assert client.get(f"/cases/{foreign}").status_code == 404
    assert client.get(f"/warehouse/cases/{foreign}").status_code == 404
    resp = client.post(f"/cases/{foreign}/act/approve", data={"csrf": token, "confirm": "1"})
    assert resp.status_code == 404
    assert client.post(f"/cases/{foreign}/messages", data={"csrf": token, "body": "x"}).status_code == 303
    # the message was refused (not found) and nothing leaked into the other shop's case
    app = world[0]
    with app.deps.uow() as uow:
        case = uow.cases.get_case(uow.shops.list_shops()[-1].shop.id, foreign)
        assert case is not None
        assert uow.records.messages(case.shop_id, foreign) == []


def test_a_buyer_sees_only_their_own_cases(desk_app, world) -> None:
    sample = world[1]
    buyer = TestClient(desk_app[0], follow_redirects=False)
    buyer_in(buyer, sample)
    assert buyer.get(f"/portal/cases/{sample.other_case_ids[0]}").status_code == 404
    assert buyer.get("/queue").status_code == 303  # staff pages send a buyer to the sign-in page


def test_buyer_html_is_shown_escaped(client, world) -> None:
    app, sample = world
    with app.deps.uow() as uow:
        order = uow.orders.get_order(sample.shop_id, sample.order_id)
    assert order is not None
    buyer = Principal(sample.shop_id, Role.buyer, buyer_id=sample.buyer_id)
    loaded = cases.open_case(app.deps, buyer, cases.NewCase(
        order.id, "refund_only", "other", ((order.lines[0].id, 1),),
        description='<script>alert("d")</script><b>bold</b>'))
    cases.add_message(app.deps, buyer, loaded.case.id, '<img src=x onerror=alert("m")>')
    sign_in(client, "agent")
    page = client.get(f"/cases/{loaded.case.id}").text
    assert '<script>alert("d")' not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(&#34;d&#34;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(&#34;m&#34;)&gt;" in page


def test_sign_in_issues_a_new_session_id_and_ends_the_old_one(client) -> None:
    sign_in(client, "agent")
    first = client.cookies.get("as_session")
    sign_in(client, "agent")
    second = client.cookies.get("as_session")
    assert first and second and first != second
    client.cookies.set("as_session", first, domain="testserver.local")
    assert client.get("/queue").status_code == 303  # the old id is dead
    client.cookies.set("as_session", second, domain="testserver.local")
    assert client.get("/queue").status_code == 200


def test_a_planted_session_cookie_is_replaced_at_sign_in(client) -> None:
    client.cookies.set("as_session", "attacker-chosen", domain="testserver.local")
    sign_in(client, "agent")
    assert client.cookies.get("as_session") != "attacker-chosen"
    assert client.get("/queue").status_code == 200


def test_sign_out_invalidates_the_session(client) -> None:
    token = sign_in(client, "agent")
    cookie = client.cookies.get("as_session")
    assert client.post("/logout", data={"csrf": token}).status_code == 303
    client.cookies.set("as_session", cookie, domain="testserver.local")
    resp = client.get("/queue")
    assert resp.status_code == 303 and resp.headers["location"].startswith("/login")


def test_cookie_flags(client) -> None:
    token = csrf_of(client.get("/login").text)
    resp = client.post("/login", data={"csrf": token, "username": "agent", "password": PASSWORD})
    cookie = next(v for k, v in resp.headers.multi_items()
                  if k == "set-cookie" and v.startswith("as_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie


def test_sign_in_is_rate_limited_per_username_and_address(client) -> None:
    token = csrf_of(client.get("/login").text)
    for _ in range(5):
        resp = client.post("/login", data={"csrf": token, "username": "agent", "password": "wrong-password"})
        assert resp.status_code == 401
    resp = client.post("/login", data={"csrf": token, "username": "agent", "password": PASSWORD})
    assert resp.status_code == 429 and "as_session" not in resp.cookies
    # another name from the same address is not blocked
    assert client.post("/login", data={"csrf": token, "username": "finance",
                                       "password": PASSWORD}).status_code == 303


def test_roles_keep_to_their_pages(client) -> None:
    sign_in(client, "warehouse")
    assert client.get("/finance").status_code == 403
    assert client.get("/warehouse").status_code == 200


def test_pages_carry_a_strict_content_security_policy(client) -> None:
    resp = client.get("/login")
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["x-content-type-options"] == "nosniff"


def test_language_switch_keeps_the_page_and_never_leaves_the_site(client) -> None:
    sign_in(client, "agent")
    resp = client.get("/lang/en?next=/queue%3Fstate%3Drequested")
    assert resp.headers["location"] == "/queue?state=requested" and resp.cookies.get("as_lang") == "en"
    assert client.get("/lang/zh-CN?next=//evil.example/x").headers["location"] == "/"
    assert client.get("/lang/en?next=/cases/x/act/approve").headers["location"] == "/"


def test_opening_a_portal_link_signs_nobody_in_until_the_buyer_continues(client, world) -> None:
    """A GET that signed in would let any page end a visitor's desk session and sign them
    into someone else's portal: the link asks first; the POST needs the page's CSRF."""
    sample = world[1]
    sign_in(client, "agent")
    page = client.get(f"/portal/login?token={sample.buyer_token}")
    assert page.status_code == 200 and 'action="/portal/login"' in page.text
    assert client.get("/queue").status_code == 200  # still the agent
    assert client.post("/portal/login", data={"token": sample.buyer_token}).status_code == 403
    assert client.get("/queue").status_code == 200
    resp = client.post("/portal/login", data={"csrf": csrf_of(page.text),
                                              "token": sample.buyer_token})
    assert resp.status_code == 303 and resp.headers["location"].endswith("/portal")
    assert client.get("/queue").status_code == 303  # now the buyer: staff pages send away
    assert client.get("/portal/login?token=not-a-token").status_code == 401
