"""What every platform adapter is, the error it raises, and where to find one.

An adapter is pure parse-and-map: a platform's payload (a decoded JSON object, as a
poller, a webhook or `aftersales import PLATFORM FILE` hands it over) in, a
PlatformSnapshot in the domain's terms out. No network, no clock, no database: a real
HTTP client fetches payloads later and feeds the same `parse()`, so the mapping is tested
once, on fixtures, and trusted everywhere.

Adapters are strict on purpose. A payload with a missing field, an unknown status or a
float amount raises PayloadError naming the field, instead of a guess that would move
money or deadlines on a case.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from typing import Any, Protocol

from aftersales.adapters.profiles import load_profile
from aftersales.domain.money import Money
from aftersales.domain.profile import Profile
from aftersales.domain.sync import PlatformSnapshot
from aftersales.domain.vocabulary import CaseType, State


class PayloadError(ValueError):
    """A platform payload we cannot map; `code` is the stable snake_case error code.

    `message` is one line naming the platform and the field (dotted path for nested
    fields), e.g. "douyin: field 'aftersale_info.refund_amount' must be an integer
    number of fen, got float 12.5".
    """

    def __init__(
        self, message: str, *, code: str = "invalid_payload", field: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


class PlatformAdapter(Protocol):
    platform: str

    def parse(self, payload: Mapping[str, Any]) -> PlatformSnapshot: ...

    def order_key(self, payload: Mapping[str, Any]) -> str:
        """parse(payload).platform_order_id, reading only that field (import partitions
        payloads by order, so that all cases of one order go to one import process)."""
        ...


# platform code -> "module:Class", imported on first use so that the platform modules
# (which import this one) never form an import cycle with the registry.
_ADAPTERS: dict[str, str] = {
    "taobao": "taobao:TaobaoAdapter",
    "tmall": "taobao:TmallAdapter",
    "kuaishou": "kuaishou:KuaishouAdapter",
    "douyin": "douyin:DouyinAdapter",
    "pinduoduo": "pinduoduo:PinduoduoAdapter",
    "aliexpress": "aliexpress:AliExpressAdapter",
    "alibaba_1688": "alibaba_1688:Alibaba1688Adapter",
    "wechat_shop": "wechat_shop:WechatShopAdapter",
}
PLATFORMS: tuple[str, ...] = tuple(_ADAPTERS)


def adapter_for(platform: str) -> PlatformAdapter:
    """The adapter for a platform code; PayloadError(code="unknown_platform") otherwise."""
    target = _ADAPTERS.get(platform)
    if target is None:
        raise PayloadError(
            f"unknown platform {platform!r}; known: {', '.join(PLATFORMS)}",
            code="unknown_platform",
        )
    module_name, _, class_name = target.partition(":")
    module = importlib.import_module(f"{__package__}.{module_name}")
    adapter: PlatformAdapter = getattr(module, class_name)()
    return adapter


@cache
def profile_for(platform: str) -> Profile:
    """The platform's rule profile: its `status_map` is the one status table, read here by
    the adapters and by the HTTP sync (entrypoints/api/routes/cases.py) alike."""
    return load_profile(platform)


def state_of(platform: str, raw: str, field: str) -> State:
    """`raw` through the profile's status_map; PayloadError naming `field` if unmapped."""
    state = profile_for(platform).state_of(raw)
    if state is None:
        shown: object = int(raw) if raw.lstrip("-").isdigit() else raw  # as the platform sent it
        raise PayloadError(f"{platform}: field '{field}' has unknown value {shown!r}", field=field)
    return state


# How far along the flow each state is: the tie-break of two versions modified in the same
# platform tick (second-granularity times): a change within one second still moves forward.
_RANK: dict[State, int] = {
    State.requested: 1, State.rejected: 2, State.disputed: 3, State.awaiting_return: 4,
    State.return_in_transit: 5, State.inspecting: 6, State.awaiting_reshipment: 7,
    State.refunding: 8, State.closed: 9, State.completed: 9,
}
_VERSION_SLOTS = 100  # rank * 2 + detail < 100


def flow_version(modified: int, state: State, *, detail: bool = False) -> int:
    """One integer ordering (modified, rank of the state along the flow, detail or not).

    Second-granularity `modified` times let two changes share a version, and an equal
    version changes nothing (service/sync.py): Douyin 6 → 12 within one second stayed at 6.
    So the state's rank breaks the tie, and a detail response (it carries the deadline, the
    dispute status… that the list item lacks) wins over a list item of the same change.
    """
    return modified * _VERSION_SLOTS + _RANK[state] * 2 + int(detail)


_MONEY_BACK = frozenset({CaseType.refund_only, CaseType.return_refund, CaseType.compensation})


def refunded_when_completed(
    state: State, case_type: CaseType | None, amount: Money | None
) -> Money | None:
    """The amount refunded, when the platform says the case succeeded with money back.

    Platforms report success by status, not by a separate "paid" amount (1688 is the
    exception and passes its own): a completed refund paid what was asked. An exchange
    or a reissue completes without a refund, so it reports none.
    """
    if state is State.completed and case_type in _MONEY_BACK:
        return amount
    return None
