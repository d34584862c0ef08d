"""Wiring for staff accounts outside a request: the CLI, the demo and tests create users here."""

from __future__ import annotations

from aftersales.adapters.db.directory import directory_for
from aftersales.service import users
from aftersales.service.deps import Deps

STAFF_ROLES = ("admin", "agent", "warehouse", "finance")


def create_user(deps: Deps, shop_id: str, username: str, password: str, role: str,
                display_name: str | None = None) -> users.User:
    return users.create_user(deps, directory_for, shop_id, username, password, role, display_name)


def seed_staff(deps: Deps, shop_id: str, password: str) -> list[users.User]:
    """One account per staff role, named after it (admin, agent, …), all with `password`.

    The same names in several shops are one person to the console: signing in once opens
    every shop whose password matches, with a shop switcher in the header.
    """
    return [create_user(deps, shop_id, role, password, role) for role in STAFF_ROLES]
