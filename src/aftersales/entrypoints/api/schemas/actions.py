"""The body of each action of API.md's table, and how it becomes an ActionRequest.

One model per action so the OpenAPI document shows exactly what each action takes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool

from aftersales.domain.case import ActionRequest, Inspection
from aftersales.domain.money import Money as DomainMoney
from aftersales.domain.vocabulary import Condition, RefundMethod
from aftersales.entrypoints.api.schemas.cases import RefundMethod as RefundMethodName
from aftersales.entrypoints.api.schemas.common import Code, Id, LongText, Model, Money, Text, with_examples


def money(value: Money | None) -> DomainMoney | None:
    return None if value is None else DomainMoney(value.amount, value.currency)


class ActionBody(Model):
    def to_request(self) -> ActionRequest:
        return ActionRequest()


class Empty(ActionBody):
    """No fields: `{}` (or no body at all)."""


class Approve(ActionBody):
    amount: Money | None = None
    refund_method: RefundMethodName | None = None
    note: LongText | None = None

    model_config = with_examples(
        {"amount": {"amount": 8000, "currency": "CNY"}, "refund_method": "original", "note": "同意退款"})

    def to_request(self) -> ActionRequest:
        method = None if self.refund_method is None else RefundMethod(self.refund_method)
        return ActionRequest(amount=money(self.amount), refund_method=method, note=self.note)


class Reject(ActionBody):
    reason_code: Code
    explanation: LongText

    model_config = Model.model_config | {"json_schema_extra": {"examples": [
        {"reason_code": "used", "explanation": "吊牌已剪，影响二次销售 / tags cut off"}]}}

    def to_request(self) -> ActionRequest:
        return ActionRequest(reason_code=self.reason_code, explanation=self.explanation)


class CounterOffer(ActionBody):
    amount: Money
    note: LongText | None = None

    model_config = with_examples(
        {"amount": {"amount": 3000, "currency": "CNY"}, "note": "部分退款 / partial refund, keep the item"})

    def to_request(self) -> ActionRequest:
        return ActionRequest(amount=money(self.amount), note=self.note)


class ShipReturn(ActionBody):
    carrier: Annotated[Text, Field(max_length=60)]
    waybill: Annotated[Text, Field(max_length=80)]
    prepaid: StrictBool
    return_freight: Money | None = Field(None, description="What the buyer paid to send it back")

    model_config = Model.model_config | {"json_schema_extra": {"examples": [
        {"carrier": "SF", "waybill": "SF1234567890", "prepaid": True,
         "return_freight": {"amount": 1200, "currency": "CNY"}}]}}

    def to_request(self) -> ActionRequest:
        return ActionRequest(carrier=self.carrier, waybill=self.waybill, prepaid=self.prepaid,
                             return_freight=money(self.return_freight))


class Receive(ActionBody):
    carrier: Annotated[Text, Field(max_length=60)] | None = None
    waybill: Annotated[Text, Field(max_length=80)] | None = None
    prepaid: StrictBool

    model_config = with_examples(
        {"carrier": "SF", "waybill": "SF1234567890", "prepaid": True})

    def to_request(self) -> ActionRequest:
        return ActionRequest(carrier=self.carrier, waybill=self.waybill, prepaid=self.prepaid)


class Inspect(ActionBody):
    verdict: Literal["accept", "refuse"]
    condition: Literal["new", "opened", "used", "damaged"]
    sku_matches: StrictBool
    accessories_complete: StrictBool
    gifts_returned: StrictBool
    note: LongText | None = None
    tags_intact: StrictBool = True
    seal_intact: StrictBool = True
    packaging_only_flaw: StrictBool = False
    quality_problem_found: StrictBool | None = None
    dispositions: dict[Id, Literal["restock", "refurbish", "scrap", "return_to_buyer"]] = Field(
        default_factory=dict, max_length=500, description="line_id → disposition")

    model_config = Model.model_config | {"json_schema_extra": {"examples": [
        {"verdict": "accept", "condition": "new", "sku_matches": True,
         "accessories_complete": True, "gifts_returned": True, "note": "完好 / as new"}]}}

    def to_request(self) -> ActionRequest:
        return ActionRequest(note=self.note, inspection=Inspection(
            verdict=self.verdict, condition=Condition(self.condition),
            sku_matches=self.sku_matches, accessories_complete=self.accessories_complete,
            gifts_returned=self.gifts_returned, tags_intact=self.tags_intact,
            seal_intact=self.seal_intact, packaging_only_flaw=self.packaging_only_flaw,
            quality_problem_found=self.quality_problem_found, note=self.note,
            dispositions=dict(self.dispositions)))


class Reship(ActionBody):
    carrier: Annotated[Text, Field(max_length=60)]
    waybill: Annotated[Text, Field(max_length=80)]

    model_config = with_examples(
        {"carrier": "YTO", "waybill": "YT9876543210"})

    def to_request(self) -> ActionRequest:
        return ActionRequest(carrier=self.carrier, waybill=self.waybill)


class Escalate(ActionBody):
    statement: LongText

    model_config = with_examples(
        {"statement": "商家拒绝了真实的质量问题 / the merchant refused a real defect"})

    def to_request(self) -> ActionRequest:
        return ActionRequest(statement=self.statement)


class Rule(ActionBody):
    in_favor_of: Literal["buyer", "merchant"]
    amount: Money | None = None

    model_config = with_examples(
        {"in_favor_of": "buyer", "amount": {"amount": 17900, "currency": "CNY"}})

    def to_request(self) -> ActionRequest:
        return ActionRequest(in_favor_of=self.in_favor_of, amount=money(self.amount))


class MarkRefunded(ActionBody):
    reference: Annotated[Text, Field(max_length=200)]

    model_config = with_examples(
        {"reference": "ICBC-20260302-0042"})

    def to_request(self) -> ActionRequest:
        return ActionRequest(reference=self.reference)


class Resubmit(ActionBody):
    amount: Money | None = None
    note: LongText | None = None

    model_config = with_examples(
        {"amount": {"amount": 5000, "currency": "CNY"}, "note": "补充了照片 / photos added"})

    def to_request(self) -> ActionRequest:
        return ActionRequest(amount=money(self.amount), note=self.note)


# action → (body model, roles as API.md writes them, summary)
ACTIONS: dict[str, tuple[type[ActionBody], str, str]] = {
    "approve": (Approve, "agent", "Approve the request (optionally another amount or method)"),
    "reject": (Reject, "agent", "Reject with a reason code and an explanation"),
    "counter_offer": (CounterOffer, "agent", "Offer a partial refund instead"),
    "accept_offer": (Empty, "buyer", "Accept the merchant's counter-offer"),
    "decline_offer": (Empty, "buyer", "Decline the merchant's counter-offer"),
    "cancel": (Empty, "buyer", "Withdraw the request"),
    "ship_return": (ShipReturn, "buyer", "Tell the merchant the return parcel's carrier and waybill"),
    "receive": (Receive, "warehouse", "Receive the return parcel (prepaid: false refuses a COD parcel)"),
    "inspect": (Inspect, "warehouse", "Record the inspection: accept or refuse"),
    "give_up_goods": (Empty, "agent", "Refund without waiting for the parcel"),
    "reship": (Reship, "warehouse, agent", "Ship the replacement or the missing piece"),
    "ship_order": (Reship, "agent, warehouse",
                   "Ship the order in time: closes an unshipped refund-only request where the "
                   "platform says so (Taobao/Tmall, Douyin)"),
    "escalate": (Escalate, "buyer", "Ask the platform to intervene after a rejection"),
    "resubmit": (Resubmit, "buyer", "Resubmit after a rejection, where the platform allows it"),
    "rule": (Rule, "platform", "The platform's ruling in a dispute"),
    "mark_refunded": (MarkRefunded, "finance", "Record an offline refund's reference"),
}
