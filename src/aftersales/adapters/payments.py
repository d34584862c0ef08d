"""Payment gateways execute ledger entries.

No real payment provider is reachable from here, so the gateway is an interface with two
honest implementations: `SandboxGateway` settles `original`, `balance` and `store_credit`
at once (API.md: sandbox shops), and leaves `offline` pending for finance's reference.
`PendingGateway` is for live shops until a provider adapter (Alipay, WeChat Pay, the
platform's refund API) fills the same interface: every entry waits as `pending` until the
platform's sync or finance confirms it — nothing claims money moved when it did not.
"""

from __future__ import annotations

from aftersales.service.ports import LedgerEntry, ShopRecord

INSTANT = frozenset({"original", "balance", "store_credit"})


class SandboxGateway:
    def execute(self, shop: ShopRecord, entry: LedgerEntry) -> tuple[str, str | None]:
        if entry.method in INSTANT:
            return "succeeded", f"sandbox-{entry.id[-12:]}"
        return "pending", None

    def confirm(self, shop: ShopRecord, entry: LedgerEntry) -> tuple[str, str | None]:
        return self.execute(shop, entry)


class PendingGateway:
    def execute(self, shop: ShopRecord, entry: LedgerEntry) -> tuple[str, str | None]:
        return "pending", None

    def confirm(self, shop: ShopRecord, entry: LedgerEntry) -> tuple[str, str | None]:
        return "pending", None  # no provider to ask: the platform's sync or finance settles


class ShopGateway:
    """Sandbox shops get the sandbox; live shops wait for a real confirmation."""

    def __init__(self) -> None:
        self.sandbox = SandboxGateway()
        self.live = PendingGateway()

    def execute(self, shop: ShopRecord, entry: LedgerEntry) -> tuple[str, str | None]:
        gateway = self.sandbox if shop.shop.sandbox else self.live
        return gateway.execute(shop, entry)

    def confirm(self, shop: ShopRecord, entry: LedgerEntry) -> tuple[str, str | None]:
        gateway = self.sandbox if shop.shop.sandbox else self.live
        return gateway.confirm(shop, entry)
