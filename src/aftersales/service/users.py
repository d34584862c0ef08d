"""Staff accounts for the console: argon2id password hashes, sign-in, the principal of a user.

API tokens stay for machines and buyers' links; people who work the desk every day sign in
with a name and a password. A person may hold an account in several shops (a merchant
selling on several platforms); one sign-in then opens all of them and the console switches
between them, so each account's principal is still one shop and one role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from aftersales.domain.errors import InvalidInput
from aftersales.domain.vocabulary import Role
from aftersales.service.console_ports import DirectoryFor
from aftersales.service.deps import Deps
from aftersales.service.errors import NotFound
from aftersales.service.ports import Principal

STAFF_ROLES = frozenset({Role.admin, Role.agent, Role.warehouse, Role.finance})
# argon2id at OWASP's recommended floor (19 MiB, 2 passes, 1 lane): one sign-in may check
# the same name in every shop of a merchant, and the desk runs on small machines.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY = _HASHER.hash("not a real password")


@dataclass(frozen=True)
class User:
    id: str
    shop_id: str
    username: str
    role: Role
    display_name: str

    @property
    def principal(self) -> Principal:
        """Events name the person as `agent:<username>`, readable in the timeline."""
        return Principal(self.shop_id, self.role, actor_id=self.username)


def _user(row: dict[str, Any]) -> User:
    return User(row["id"], row["shop_id"], row["username"], Role(row["role"]),
                row.get("display_name") or row["username"])


def create_user(deps: Deps, directory: DirectoryFor, shop_id: str, username: str, password: str,
                role: str, display_name: str | None = None) -> User:
    name = username.strip()
    if not name or len(name) > 120 or any(ch.isspace() for ch in name):
        raise InvalidInput("a username is 1–120 characters without spaces", code="invalid_username")
    if display_name is not None and len(display_name) > 120:
        raise InvalidInput("a display name is at most 120 characters", code="invalid_name")
    if len(password) < 8:
        raise InvalidInput("a password needs at least 8 characters", code="weak_password")
    try:
        parsed = Role(role)
    except ValueError:
        parsed = None
    if parsed not in STAFF_ROLES:
        raise InvalidInput(f"a staff role is one of {', '.join(sorted(STAFF_ROLES))}",
                           code="invalid_role")
    assert parsed is not None
    row = {"id": deps.new_id(), "shop_id": shop_id, "username": name,
           "password_hash": _HASHER.hash(password), "role": parsed.value,
           "display_name": (display_name or "").strip() or None, "created_at": deps.clock.now()}
    with deps.uow() as uow:
        if uow.shops.get_shop(shop_id) is None:
            raise NotFound(f"no shop {shop_id}", code="shop_not_found")
        dirx = directory(uow)
        taken = InvalidInput(f"user {name!r} already exists in this shop", code="username_taken")
        if any(u["shop_id"] == shop_id for u in dirx.users_named(name)):
            raise taken
        if not dirx.add_user(row):  # added by another request at the same moment
            raise taken
        uow.commit()
    return _user(row)


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def sign_in(deps: Deps, directory: DirectoryFor, username: str, password: str) -> list[User]:
    """Every account of this name whose password matches; empty when none does."""
    with deps.uow() as uow:
        rows = directory(uow).users_named(username.strip())
    if not rows:
        _verify(_DUMMY, password)
        return []
    return [_user(r) for r in rows if _verify(r["password_hash"], password)]


def get_user(deps: Deps, directory: DirectoryFor, user_id: str) -> User | None:
    with deps.uow() as uow:
        row = directory(uow).get_user(user_id)
    return None if row is None else _user(row)


def list_users(deps: Deps, directory: DirectoryFor, shop_id: str) -> list[User]:
    with deps.uow() as uow:
        return [_user(r) for r in directory(uow).list_users(shop_id)]
