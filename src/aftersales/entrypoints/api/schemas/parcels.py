"""Warehouse parcels: scanning a waybill, the unmatched ones, attaching one to a case."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from aftersales.entrypoints.api.schemas.common import Id, Model, OpenModel, Text


class ScanIn(Model):
    carrier: Annotated[Text, Field(max_length=60)] | None = None
    waybill: Annotated[Text, Field(max_length=80)]

    model_config = Model.model_config | {"json_schema_extra": {"examples": [
        {"carrier": "SF", "waybill": "SF1234567890"}]}}


class AttachIn(Model):
    case_id: Id

    model_config = Model.model_config | {"json_schema_extra": {"examples": [
        {"case_id": "0196a3e4-2b1c-7d3e-9f00-1a2b3c4d5e6f"}]}}


class ParcelOut(OpenModel):
    id: str
    waybill: str
    status: str


class ParcelList(OpenModel):
    items: list[ParcelOut]
