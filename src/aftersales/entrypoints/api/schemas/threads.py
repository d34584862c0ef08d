"""What hangs off a case: messages, evidence, the rating, and its refunds."""

from __future__ import annotations

from pydantic import Field, StrictInt

from aftersales.entrypoints.api.schemas.common import LongText, Model, Money, OpenModel


class MessageIn(Model):
    body: LongText

    model_config = Model.model_config | {"json_schema_extra": {"examples": [
        {"body": "请提供开线处的照片 / please send a photo of the seam"}]}}


class MessageOut(OpenModel):
    id: str
    author: str
    body: str
    at: str


class MessageList(OpenModel):
    items: list[MessageOut]


class RatingIn(Model):
    stars: StrictInt = Field(ge=1, le=5, examples=[5])


class NudgeIn(Model):
    note: str = Field("", max_length=500, examples=["客户在催，请今天验货"])


class EvidenceOut(OpenModel):
    id: str
    content_type: str
    size: int


class EvidenceList(OpenModel):
    items: list[EvidenceOut]


class RefundOut(OpenModel):
    id: str
    case_id: str
    kind: str
    amount: Money
    method: str
    status: str
    reference: str | None
    at: str


class DifferenceOut(OpenModel):
    id: str
    case_id: str
    order_id: str
    reference: str
    reported: Money
    booked: Money
    difference: Money
    at: str


class DifferenceList(OpenModel):
    items: list[DifferenceOut]


class RefundList(OpenModel):
    items: list[RefundOut]
