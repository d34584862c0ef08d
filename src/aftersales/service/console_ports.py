"""The console's own storage needs, beside the main Store: staff accounts and buyers' orders.

Kept apart from `ports.Store` so the console can grow without touching the core store;
adapters/db/directory.py fills it on the same connection (same transaction) as the store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from aftersales.service.ports import UnitOfWork


class Directory(Protocol):
    def add_user(self, row: Mapping[str, Any]) -> None: ...
    def users_named(self, username: str) -> list[dict[str, Any]]: ...
    def get_user(self, user_id: str) -> dict[str, Any] | None: ...
    def list_users(self, shop_id: str) -> list[dict[str, Any]]: ...
    def buyer_order_ids(self, shop_id: str, buyer_id: str, limit: int) -> list[str]: ...


# Given the open unit of work, the directory that reads and writes in its transaction.
DirectoryFor = Callable[[UnitOfWork], Directory]
