"""Shared field types: text, ids, money, times — bounded so bad input never reaches storage.

Why the bounds: a NUL byte or a lone surrogate in a string, an integer past 64 bits, or a
year 9999 timestamp is not a business question but it would fail deep in the database
or in date arithmetic as a 500. Refusing them while parsing keeps "bad input → 4xx".
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StrictInt

from aftersales.domain.clock import EARLIEST_YEAR, LATEST_YEAR

MAX_MINOR = 10**12  # minor units: ten billion yuan is more than any order takes
EARLIEST, LATEST = EARLIEST_YEAR, LATEST_YEAR


def _clean_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _sane_time(value: datetime) -> datetime:
    if not EARLIEST <= value.year <= LATEST:
        raise ValueError(f"must fall between {EARLIEST} and {LATEST}")
    return value


# A string: stripped (Model's config), NUL-free, not empty (TextOrEmpty may be ""). A field
# gives its width where it is declared: `Annotated[Text, Field(max_length=60)]`.
TextOrEmpty = Annotated[str, AfterValidator(_clean_text)]
Text = Annotated[TextOrEmpty, Field(min_length=1)]
ShortText = Annotated[Text, Field(max_length=200)]
LongText = Annotated[Text, Field(max_length=5000)]
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_.:-]+$",
                            examples=["not_as_described"])]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
                          examples=["0196a3e4-2b1c-7d3e-9f00-1a2b3c4d5e6f"])]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["CNY"])]
Amount = Annotated[StrictInt, Field(ge=0, le=MAX_MINOR, examples=[12500])]
Quantity = Annotated[StrictInt, Field(ge=1, le=100_000, examples=[1])]
Timestamp = Annotated[AwareDatetime, AfterValidator(_sane_time),
                      Field(examples=["2026-03-02T10:00:00+08:00"])]


class Model(BaseModel):
    """Strict bodies: unknown fields are refused (a typo must not silently drop money)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def with_examples(*examples: dict[str, Any]) -> ConfigDict:
    """A strict body's config carrying request examples for the OpenAPI document."""
    return ConfigDict(extra="forbid", str_strip_whitespace=True,
                      json_schema_extra={"examples": list(examples)})


class Money(Model):
    """Money in minor units (分/cents) with its currency; never a float."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"amount": 12500, "currency": "CNY"}]})

    amount: Amount
    currency: Currency


class ErrorDetail(BaseModel):
    code: str = Field(examples=["invalid_transition"])
    message: str = Field(examples=["action 'approve' is not allowed for a refund_only case in state closed"])


class ErrorOut(BaseModel):
    error: ErrorDetail


class OpenModel(BaseModel):
    """Response models document the main fields; views may carry more."""

    model_config = ConfigDict(extra="allow")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "Malformed request", 401: "Missing or invalid token", 403: "Role not allowed",
            404: "Not found (or another shop's / buyer's)", 409: "Conflict with the current state",
            413: "Body too large", 415: "Unsupported media type", 422: "Refused: invalid or by rule"}
    # 422 always: FastAPI would otherwise document its own validation body, not ours.
    return {s: {"model": ErrorOut, "description": text.get(s, "Error")}
            for s in sorted({*statuses, 422})}


# Query parameters take plain annotated types (FastAPI's Query carries the metadata).
QueryTime = Annotated[AwareDatetime, AfterValidator(_sane_time)]
QueryText = Annotated[str, AfterValidator(_clean_text)]
