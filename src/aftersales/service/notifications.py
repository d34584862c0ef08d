"""Alerts to the merchant: the platform decided (or a deadline passed), a bad rating came in.

Messages are queued in the same transaction as the event that causes them (an outbox), and
the worker sends them afterwards — so an alert is never sent for something that rolled
back, and a mail server that is down delays alerts without losing them.
Recipient: the shop's `alert_email` in its merchant policy (`extra.alert_email`); a shop
without one gets no mail, only the marks on the desk.
"""

from __future__ import annotations

import smtplib
from datetime import datetime, timedelta

from aftersales.domain.case import Case
from aftersales.domain.merchant_policy import is_email
from aftersales.service.deps import Deps
from aftersales.service.ports import Mailer, ShopRecord
from aftersales.service.repositories import UnitOfWork


def alert_address(shop: ShopRecord) -> str | None:
    """The shop's alert address; None without one, or with one a policy stored before
    addresses were checked holds that no mail could go to (its mail is skipped: a mail
    that cannot be queued must not fail the deadline or the request that sends it)."""
    value = shop.policy.extra.get("alert_email")
    return value if is_email(value) else None


def enqueue(deps: Deps, uow: UnitOfWork, shop: ShopRecord, case: Case | None, subject: str,
            body: str, now: datetime) -> bool:
    recipient = alert_address(shop)
    if recipient is None:
        return False
    uow.records.add_notification(shop.shop.id, {
        "id": deps.new_id(), "case_id": None if case is None else case.id, "channel": "email",
        "recipient": recipient, "subject": subject[:300], "body": body, "created_at": now,
        "attempts": 0})
    return True


def deadline_alert(deps: Deps, uow: UnitOfWork, shop: ShopRecord, case: Case, now: datetime) -> None:
    """After the system performed a platform's automatic outcome on a case."""
    last = case.events[-1]
    subject = f"[售后] {shop.shop.name}: {last.kind} — case {case.id[-8:]} ({case.state})"
    body = (f"{last.explanation}\n\nCase {case.id}, order {case.order_id}, buyer {case.buyer_id}.\n"
            f"State: {last.from_state} → {last.to_state} at {last.at.isoformat()}.")
    enqueue(deps, uow, shop, case, subject, body, now)


CLAIM_HORIZON = timedelta(hours=48)


def warn_near_due(deps: Deps, now: datetime, *, live_only: bool = True,
                  shop_id: str | None = None, limit: int = 500) -> int:
    """Queue a 即将超时 alert for each deadline entering its last hours, once per deadline.

    DOMAIN.md: a case is near its deadline with less than 12 hours (or 20% of its window)
    left; the alert goes out when the last 12 hours (the profile's `near_timeout_hours`)
    begin, so the merchant hears before the platform decides for them.
    """
    queued = 0
    with deps.uow() as uow:
        # Claim a generous horizon; each row is then held to its own platform's "near".
        rows = uow.deadlines.claim_near_due(now + CLAIM_HORIZON, limit, live_only=live_only,
                                    shop_id=shop_id)
        shops: dict[str, ShopRecord | None] = {}
        warned = []
        for row in rows:
            shop = shops.setdefault(row.shop_id, uow.shops.get_shop(row.shop_id))
            if shop is None:
                continue
            profile = deps.profiles(shop.shop.platform)
            if row.due_at > now + timedelta(hours=profile.near_timeout_hours):
                continue  # this platform's "near" has not begun yet
            warned.append(row.id)
            left = row.due_at - now
            hours = max(0, int(left.total_seconds() // 3600))
            queued += enqueue(
                deps, uow, shop, None,
                f"[即将超时] {shop.shop.name}: case {row.case_id[-8:]} — {row.outcome} in {hours} h",
                f"Case {row.case_id} reaches its deadline at {row.due_at.isoformat()} "
                f"({hours} h left). If nothing is done, the outcome is {row.outcome} "
                f"(rule {row.key.split(':', 1)[-1]}).\n案件将于 {row.due_at.isoformat()} 到期，"
                f"剩余约 {hours} 小时，到期后将执行：{row.outcome}。", now)
        uow.deadlines.mark_warned(warned, now)
        uow.commit()
    return queued


def send_pending(deps: Deps, mailer: Mailer, limit: int = 50) -> int:
    """Send what is queued; failures are counted and retried (at most 5 attempts)."""
    sent = 0
    with deps.uow() as uow:
        for row in uow.records.claim_notifications(limit):
            try:
                mailer.send(row["recipient"], row["subject"], row["body"])
            except (OSError, smtplib.SMTPException):
                uow.records.mark_notification(row["id"], None)
                continue
            uow.records.mark_notification(row["id"], deps.clock.now())
            sent += 1
        uow.commit()
    return sent
