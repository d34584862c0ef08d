"""The collaborators every handler needs, built once by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from aftersales.domain.profile import Profile
from aftersales.service.ports import BlobStore, Clock, ContentChecker, IdGenerator, PaymentGateway, ShopRecord
from aftersales.service.repositories import UnitOfWork


@dataclass(frozen=True)
class EvidenceQuota:
    """How much evidence one case holds, and one buyer uploads across a shop's cases."""

    case_files: int = 30
    case_bytes: int = 200 * 1024 * 1024
    buyer_files: int = 100
    buyer_bytes: int = 500 * 1024 * 1024


@dataclass(frozen=True)
class Deps:
    uow: Callable[[], UnitOfWork]
    clock: Clock
    new_id: IdGenerator
    payments: PaymentGateway
    profiles: Callable[[str], Profile]
    blobs: BlobStore | None = None
    max_upload_bytes: int = 20 * 1024 * 1024
    checks: ContentChecker | None = None
    evidence_quota: EvidenceQuota = field(default_factory=EvidenceQuota)

    def now_for(self, shop: ShopRecord) -> datetime:
        """A sandbox shop reads its own stored clock; every other shop the wall clock."""
        if shop.shop.sandbox and shop.clock_at is not None:
            return shop.clock_at
        return self.clock.now()
