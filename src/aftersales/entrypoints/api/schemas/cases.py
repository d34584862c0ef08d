"""POST /cases (a buyer's request, or a platform's case to mirror) and the case as shown."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt

from aftersales.entrypoints.api.schemas.common import (
    Amount,
    Id,
    LongText,
    Model,
    Money,
    OpenModel,
    Quantity,
    Text,
    Timestamp,
)
from aftersales.service.cases import NewCase

CaseType = Literal["refund_only", "return_refund", "exchange", "reissue", "compensation"]
ReasonCode = Literal["quality_issue", "not_as_described", "wrong_item", "missing_item",
                     "damaged_in_transit", "lost_in_transit", "delayed_delivery", "not_received",
                     "no_reason", "counterfeit_claim", "other"]
RefundMethod = Literal["original", "balance", "store_credit", "offline"]
StateName = Literal["requested", "awaiting_return", "return_in_transit", "inspecting",
                    "awaiting_reshipment", "refunding", "rejected", "disputed", "completed",
                    "closed"]


class CaseLineIn(Model):
    line_id: Id
    quantity: Quantity


class CaseIn(Model):
    order_id: Id
    type: CaseType
    reason: ReasonCode
    lines: list[CaseLineIn] = Field(default_factory=list, max_length=500)
    requested_amount: Amount | Money | None = Field(
        None, description="Money, or minor units in the order's currency; default: all refundable")
    refund_method: RefundMethod | None = None
    description: LongText | None = None
    # The platform role only: a platform case to mirror (a sync when posted again).
    platform_case_id: Annotated[Text, Field(max_length=100)] | None = None
    platform_status: Annotated[Text, Field(max_length=100)] | None = Field(
        None, description="The platform's raw status, mapped through the platform profile's status_map")
    platform_deadline: Timestamp | None = None
    platform_version: StrictInt | None = Field(None, ge=0, le=2**62)

    model_config = Model.model_config | {"json_schema_extra": {"examples": [
        {"order_id": "0196a3e4-2b1c-7d3e-9f00-1a2b3c4d5e6f", "type": "return_refund",
         "reason": "quality_issue", "lines": [{"line_id": "0196a3e4-2b1c-7d3e-9f00-aaaaaaaaaaaa",
                                               "quantity": 1}],
         "requested_amount": {"amount": 17900, "currency": "CNY"}, "refund_method": "original",
         "description": "裙子开线了 / the seam came apart"},
        {"order_id": "0196a3e4-2b1c-7d3e-9f00-1a2b3c4d5e6f", "type": "refund_only",
         "reason": "not_received", "platform_case_id": "KS-R-889900", "platform_status": "10",
         "platform_version": 1767225600000,
         "platform_deadline": "2026-03-04T10:00:00+08:00"},
    ]}}

    @property
    def is_sync(self) -> bool:
        return self.platform_case_id is not None

    def to_command(self) -> NewCase:
        amount = self.requested_amount
        return NewCase(
            order_id=self.order_id, type=self.type, reason=self.reason,
            lines=tuple((ln.line_id, ln.quantity) for ln in self.lines),
            requested_amount=amount.amount if isinstance(amount, Money) else amount,
            refund_method=self.refund_method, description=self.description or "",
        )


class DeadlineOut(OpenModel):
    at: str
    outcome: str
    source: Literal["platform", "profile"]
    rule: str


class RuleOut(OpenModel):
    code: str
    explanation: str


class RecommendationOut(OpenModel):
    decision: str
    rules: list[RuleOut]


class EventOut(OpenModel):
    at: str
    actor: str
    kind: str
    from_state: str | None
    to_state: str | None
    explanation: str


class CaseLineOut(OpenModel):
    line_id: str
    quantity: int


class CaseOut(OpenModel):
    id: str
    order_id: str
    type: str
    reason: str
    state: str
    lines: list[CaseLineOut]
    requested_amount: Money
    approved_amount: Money | None
    refund_method: str
    deadline: DeadlineOut | None
    overdue: bool
    near_timeout: bool
    recommendation: RecommendationOut
    version: int
    events: list[EventOut]


class CaseSummaryOut(OpenModel):
    id: str
    order_id: str
    type: str
    reason: str
    state: str
    deadline: DeadlineOut | None
    overdue: bool
    near_timeout: bool


class CasePage(OpenModel):
    items: list[CaseSummaryOut]
    next_cursor: str | None
