"""The Douyin connector against the fake 抖店 over real HTTP: signed calls, paging, the
detail the inbound adapter reads, the platform's own timer, the rate limit's real code,
injected 5xx, and an operate made once per idempotency key."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from aftersales.adapters.platforms import adapter_for
from aftersales.adapters.platforms.douyin_client import DouyinConnection
from aftersales.adapters.platforms.douyin_sign import push_sign
from aftersales.domain.vocabulary import State
from aftersales.service.connection_ports import (
    Act,
    Credentials,
    NotSupported,
    OutboundAct,
    PlatformRefused,
    PushRefused,
)
from platforms.fake_douyin import APP_KEY, APP_SECRET, control, fake_douyin

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fake_douyin(tmp_path_factory.mktemp("fake") / "fake.log") as url:
        yield url


@pytest.fixture
def creds(base: str) -> Credentials:
    control(base, "config", {"qps": 20})
    return DouyinConnection(base).refresh(Credentials(APP_KEY, APP_SECRET), NOW)


def test_a_new_case_is_pulled_and_its_detail_parses_with_the_platforms_deadline(
        base: str, creds: Credentials) -> None:
    made = control(base, "aftersales", {"aftersale_type": 1, "refund_amount": 4590})["aftersale_id"]
    conn = DouyinConnection(base)
    page = conn.pull(creds, None, NOW)
    item = next(p for p in page.payloads if p["aftersale_info"]["aftersale_id"] == made)
    snap = adapter_for("douyin").parse(conn.detail(creds, made))
    listed = adapter_for("douyin").parse(item)
    assert snap.platform_case_id == listed.platform_case_id == made
    assert snap.state == State.requested and snap.requested_amount is not None
    assert snap.requested_amount.amount == 4590
    deadline = item["aftersale_info"]["status_deadline"]
    assert snap.deadline_at == datetime.fromtimestamp(deadline, UTC)
    assert int(page.cursor) >= item["aftersale_info"]["update_time"] and not page.has_more


def test_paging_walks_every_page_in_update_order(base: str, creds: Credentials) -> None:
    conn = DouyinConnection(base)
    start = control(base, "health")["now"]
    made = {control(base, "aftersales", {"refund_amount": 100 + i})["aftersale_id"]
            for i in range(105)}
    seen: list[str] = []
    cursor: str | None = str(start)
    while True:
        page = conn.pull(creds, cursor, NOW)
        seen += [p["aftersale_info"]["aftersale_id"] for p in page.payloads]
        cursor = page.cursor
        if not page.has_more:
            break
    assert made <= set(seen) and len(seen) == len(set(seen))


def test_the_platforms_review_timer_auto_agrees_when_it_passes(base: str,
                                                               creds: Credentials) -> None:
    made = control(base, "aftersales", {"aftersale_type": 1})["aftersale_id"]
    control(base, "clock", {"advance": 48 * 3600 + 1})
    snap = adapter_for("douyin").parse(DouyinConnection(base).detail(creds, made))
    assert snap.state == State.completed and snap.platform_status == "12"


def test_agree_is_made_once_per_idempotency_key(base: str, creds: Credentials) -> None:
    made = control(base, "aftersales", {"aftersale_type": 1})["aftersale_id"]
    conn = DouyinConnection(base)
    act = OutboundAct(Act.agree_refund, made, f"key-{made}")
    conn.perform(creds, act)
    conn.perform(creds, act)  # a redelivery
    applied = [a for a in control(base, "applied")["applied"] if a["aftersale_id"] == made]
    assert applied == [{"type": 201, "aftersale_id": made, "key": f"key-{made}"}]
    with pytest.raises(PlatformRefused, match="20309541") as refused:  # a new key: status moved
        conn.perform(creds, OutboundAct(Act.agree_refund, made, f"other-{made}"))
    assert not refused.value.retry
    with pytest.raises(NotSupported):
        conn.perform(creds, OutboundAct(Act.message_buyer, made, "k"))


def test_a_wrong_secret_is_refused_with_the_signature_code(base: str) -> None:
    with pytest.raises(PlatformRefused, match=r"40003 isv\.signature-invalid") as refused:
        DouyinConnection(base).refresh(Credentials(APP_KEY, "not-the-secret"), NOW)
    assert not refused.value.retry


def test_the_rate_limit_answers_60000_and_is_retryable(base: str, creds: Credentials) -> None:
    made = control(base, "aftersales", {})["aftersale_id"]
    control(base, "config", {"qps": 2})
    time.sleep(1.1)
    conn = DouyinConnection(base)
    with pytest.raises(PlatformRefused, match=r"60000 isv\.traffic-limited") as refused:
        for _ in range(3):
            conn.detail(creds, made)
    assert refused.value.retry and refused.value.retry_after
    control(base, "config", {"qps": 20})


def test_injected_5xx_and_timeouts_are_retryable(base: str, creds: Credentials) -> None:
    control(base, "inject", {"trouble": {"status": 503}})
    with pytest.raises(PlatformRefused, match="503") as refused:
        DouyinConnection(base).pull(creds, None, NOW)
    assert refused.value.retry
    control(base, "inject", {"trouble": {"delay": 2}})
    with pytest.raises(PlatformRefused, match="transport") as timed_out:
        DouyinConnection(base, timeout=0.5).pull(creds, None, NOW)
    assert timed_out.value.retry
    time.sleep(2)


def test_refresh_early_keeps_the_tokens(base: str, creds: Credentials) -> None:
    again = DouyinConnection(base).refresh(creds, NOW)
    assert (again.access_token, again.refresh_token) == (creds.access_token, creds.refresh_token)


def test_push_signatures_verify_only_with_the_secret() -> None:
    body = b'[{"tag":"200","msg_id":"1","data":"{\\"aftersale_id\\":\\"73\\"}"}]'
    conn = DouyinConnection("http://unused")
    creds = Credentials(APP_KEY, APP_SECRET)
    good = {"app-id": APP_KEY, "event-sign": push_sign(APP_KEY, body, APP_SECRET)}
    assert conn.verify_push(creds, body, good) == ("73",)
    with pytest.raises(PushRefused):
        conn.verify_push(creds, body, {**good, "event-sign": push_sign(APP_KEY, body, "forged")})
    with pytest.raises(PushRefused):
        conn.verify_push(creds, body + b" ", good)
