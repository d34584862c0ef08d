"""Events: the append-only history of a case; the audit trail and the dispute evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aftersales.domain.vocabulary import Role, State


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted: `buyer`, `agent:<id>`, `warehouse:<id>`, `platform`, `system`."""

    role: Role
    id: str | None = None

    def __str__(self) -> str:
        if self.role in (Role.buyer, Role.platform, Role.system) or not self.id:
            return str(self.role)
        return f"{self.role}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> Actor:
        role, _, ident = text.partition(":")
        return cls(Role(role), ident or None)


SYSTEM = Actor(Role.system)


@dataclass(frozen=True, slots=True)
class Event:
    at: datetime
    actor: str
    kind: str  # the action, or e.g. "opened", "platform_sync", "deadline_fired"
    from_state: State | None
    to_state: State | None
    explanation: str
    reason_code: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
