"""Alerts go out by real SMTP (aiosmtpd), from an outbox written with the event."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from aftersales.adapters.db.migrate import upgrade
from aftersales.adapters.mail import SmtpMailer
from aftersales.domain.merchant_policy import MerchantPolicy
from aftersales.domain.vocabulary import Role
from aftersales.entrypoints.bootstrap import bootstrap
from aftersales.service import cases, notifications, orders, shops, timers
from aftersales.service.ports import Principal
from servers import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def _sandbox(tmp_path: Path, alert: str | None):
    app = bootstrap(f"sqlite:///{tmp_path}/n.db", evidence_dir=tmp_path / "ev")
    upgrade(app.engine)
    extra = {"alert_email": alert} if alert else {}
    shop = shops.create_shop(app.deps, "快手旗舰店", "kuaishou", sandbox=True,
                             policy=MerchantPolicy(extra=extra))
    admin = Principal(shop.shop.id, Role.admin, None, "adm")
    buyer = Principal(shop.shop.id, Role.buyer, "b1", None)
    now = app.deps.clock.now()
    order, _ = orders.import_order(app.deps, admin, orders.NewOrder(
        "KS-N1", "b1", now - timedelta(days=3), "alipay", "CNY", 0, True,
        (orders.NewLine("SKU-N", "卫衣 藏青 L", 9900, 1, 9900),),
        shipped_at=now - timedelta(days=2), delivered_at=now - timedelta(days=1)))
    cases.open_case(app.deps, buyer, cases.NewCase(order.id, "return_refund", "no_reason",
                                                   ((order.lines[0].id, 1),)))
    return app, admin


def test_auto_approval_alert_is_mailed_once(tmp_path: Path, smtp) -> None:
    """PLATFORMS.md outcomes: when the platform decides, "an alert goes out"."""
    inbox, port = smtp
    app, admin = _sandbox(tmp_path, "ops@shop.example")
    _, fired = timers.advance_clock(app.deps, admin, by="49h")
    assert [f.outcome for f in fired] == ["auto_approve"]
    mailer = SmtpMailer("127.0.0.1", port)
    assert notifications.send_pending(app.deps, mailer) == 1
    assert notifications.send_pending(app.deps, mailer) == 0  # sent once, not again
    _sender, rcpts, raw = inbox.messages[0]
    msg = message_from_bytes(raw)
    assert rcpts == ["ops@shop.example"]
    assert "快手旗舰店" in str(make_header(decode_header(msg["Subject"])))
    assert "48 h" in msg.get_payload(decode=True).decode()


def test_mail_server_down_keeps_the_alert_queued(tmp_path: Path) -> None:
    """An outbox: a mail server that is down delays alerts, never loses them."""
    app, admin = _sandbox(tmp_path, "ops@shop.example")
    timers.advance_clock(app.deps, admin, by="49h")
    assert notifications.send_pending(app.deps, SmtpMailer("127.0.0.1", free_port(), timeout=2)) == 0
    with app.deps.uow() as uow:
        queued = uow.records.claim_notifications(10)
    assert len(queued) == 1 and queued[0]["attempts"] == 1 and queued[0]["sent_at"] is None


def test_no_alert_address_no_mail(tmp_path: Path) -> None:
    app, admin = _sandbox(tmp_path, None)
    timers.advance_clock(app.deps, admin, by="49h")
    with app.deps.uow() as uow:
        assert uow.records.claim_notifications(10) == []


def test_near_timeout_alert_goes_out_once_before_the_platform_decides(tmp_path: Path, smtp) -> None:
    """DOMAIN.md: a case with less than 12 hours left is flagged 即将超时 — and the merchant
    is told then, once, before the platform's automatic outcome (Kuaishou: 48 h review)."""
    inbox, port = smtp
    app, admin = _sandbox(tmp_path, "ops@shop.example")
    mailer = SmtpMailer("127.0.0.1", port)
    timers.advance_clock(app.deps, admin, by="30h")  # 18 h left: not near yet
    assert notifications.send_pending(app.deps, mailer) == 0
    timers.advance_clock(app.deps, admin, by="7h")  # 11 h left: near
    timers.advance_clock(app.deps, admin, by="1h")  # still near: no second alert
    assert notifications.send_pending(app.deps, mailer) == 1
    subject = str(make_header(decode_header(message_from_bytes(inbox.messages[0][2])["Subject"])))
    assert subject.startswith("[即将超时]") and "auto_approve" in subject
