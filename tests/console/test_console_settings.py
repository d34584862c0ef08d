"""Settings: the shop's admin edits the merchant policy and adds staff accounts."""

from __future__ import annotations

import json

from aftersales.service import shops
from console.console_helpers import sign_in


def test_admin_saves_a_policy_that_the_service_then_uses(client, world) -> None:
    """The policy is data per shop (DOMAIN.md); the desk stores it through the same call
    as PUT /api/v1/shop/policy, and a document that does not validate changes nothing."""
    app, sample = world
    token = sign_in(client, "admin")
    page = client.get("/settings")
    assert page.status_code == 200 and "商家售后政策" in page.text
    policy = {"auto_approve": [{"max_amount": 3000}], "extra": {"alert_email": "ops@example.com"}}
    resp = client.post("/settings/policy", data={"csrf": token, "policy": json.dumps(policy)})
    assert resp.status_code == 303
    with app.deps.uow() as uow:
        stored = uow.shops.get_shop(sample.shop_id)
    assert stored is not None and stored.policy.auto_approve[0].max_amount == 3000
    for bad in ('{"auto_approve": [{"max_amount": 29.99}]}', "not json", "[1, 2]"):
        resp = client.post("/settings/policy", data={"csrf": token, "policy": bad})
        assert resp.status_code == 422
        assert "<textarea" in resp.text and bad.replace('"', "&#34;") in resp.text
    view = shops.shop_view(stored)
    assert view["policy"]["extra"] == {"alert_email": "ops@example.com"}


def test_admin_adds_a_staff_account_that_can_sign_in(client, world) -> None:
    token = sign_in(client, "admin")
    resp = client.post("/settings/users", data={"csrf": token, "username": "xiaomei",
                                                "password": "long-enough-9", "role": "warehouse"})
    assert resp.status_code == 303
    assert "xiaomei" in client.get("/settings").text
    client.post("/logout", data={"csrf": client.get("/settings").text.split('name="csrf" value="')[1]
                                 .split('"')[0]})
    sign_in(client, "xiaomei", "long-enough-9")
    assert client.get("/warehouse").status_code == 200


def test_only_an_admin_reaches_settings(client, world) -> None:
    token = sign_in(client, "agent")
    assert client.get("/settings").status_code in (403, 404)
    resp = client.post("/settings/policy", data={"csrf": token, "policy": "{}"})
    assert resp.status_code in (403, 404)
