"""Sandbox clocks (like payment providers' test clocks)."""

from __future__ import annotations

from pydantic import Field

from aftersales.entrypoints.api.schemas.common import Model, OpenModel, Timestamp


class AdvanceIn(Model):
    """Exactly one of `to` (an instant) or `by` (a duration such as 49h, 10d, 30m)."""

    to: Timestamp | None = None
    by: str | None = Field(None, pattern=r"^\s*[0-9]{1,6}[mhdMHD]\s*$", examples=["49h"])

    model_config = Model.model_config | {"json_schema_extra": {"examples": [
        {"by": "49h"}, {"to": "2026-03-12T00:00:00+08:00"}]}}


class ClockOut(OpenModel):
    now: str


class FiredOut(OpenModel):
    case_id: str
    outcome: str
    at: str


class AdvanceOut(OpenModel):
    now: str
    fired: list[FiredOut]
