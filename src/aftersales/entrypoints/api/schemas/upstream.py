"""Upstream claims on suppliers (PLATFORMS.md / 1688 dropshipping): bodies and answers.

The platform's own bounds (description length, evidence images, amount ≤ paid) come from
the case's rule profile and are checked by the domain, so the schema only keeps input
sane; a bound the profile sets answers 422 with its own code.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt

from aftersales.entrypoints.api.schemas.common import (
    Amount,
    Currency,
    LongText,
    Model,
    OpenModel,
    Text,
    TextOrEmpty,
    with_examples,
)

EvidenceCount = Annotated[StrictInt, Field(ge=0, le=1000, examples=[2])]


class ClaimIn(Model):
    supplier: Annotated[Text, Field(max_length=200)]
    supplier_order_id: Annotated[Text, Field(max_length=120)]
    amount: Amount = Field(description="What the merchant claims back, in minor units (分)")
    supplier_paid: Amount | None = Field(
        None, description="What the merchant paid the supplier for the line, in minor units; "
                          "when given, the claim may not exceed it (createRefund: amount ≤ paid)")
    description: Annotated[TextOrEmpty, Field(max_length=2000)]
    evidence_count: EvidenceCount = Field(description="Voucher images sent with the claim")

    model_config = with_examples({
        "supplier": "义乌市某某服饰有限公司", "supplier_order_id": "2384756109283746",
        "amount": 4500, "supplier_paid": 5200, "description": "买家收到商品破损，已退款给买家",
        "evidence_count": 2})


class RecoveryIn(Model):
    amount: Amount
    currency: Currency

    model_config = with_examples({"amount": 4500, "currency": "CNY"})


class NoteIn(Model):
    note: LongText | None = None

    model_config = with_examples({"note": "供应商拒绝：称已超过售后期"})


class MoneyOut(OpenModel):
    amount: int
    currency: str


class ClaimOut(OpenModel):
    id: str
    case_id: str
    supplier: str
    supplier_order_id: str
    amount: MoneyOut
    recovered: MoneyOut
    outstanding: MoneyOut
    status: str
    evidence_count: int
    opened_at: str
    settled_at: str | None = None


class ClaimList(OpenModel):
    items: list[ClaimOut]


class UnrecoveredOut(OpenModel):
    totals: list[dict[str, int | str]]
    unclaimed_cases: list[dict[str, object]]
    open_claims: list[dict[str, object]]
    refused_claims: list[dict[str, object]]
