"""The strict readers every adapter uses: types, amounts and times, errors naming fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aftersales.adapters.platforms import PayloadError
from aftersales.adapters.platforms.fields import Fields, epoch_ms, unwrap
from aftersales.domain.money import Money


def fields(**data: object) -> Fields:
    return Fields("demo", data)


@pytest.mark.parametrize(
    ("text", "fen"),
    [("12.50", 1250), ("12.5", 1250), ("12", 1200), ("0.01", 1), ("200.07", 20007), ("12.500", 1250)],
)
def test_yuan_strings_with_one_or_two_decimals_are_exact(text: str, fen: int) -> None:
    assert fields(amount=text).major("amount", "CNY") == Money(fen, "CNY")


@pytest.mark.parametrize("text", ["12.505", "0.001", "1.999"])
def test_yuan_strings_with_too_many_decimals_are_refused(text: str) -> None:
    with pytest.raises(PayloadError, match=r"field 'amount' is not a valid CNY amount.*decimals"):
        fields(amount=text).major("amount", "CNY")


@pytest.mark.parametrize("value", [12.5, 12, True])
def test_yuan_amounts_must_be_strings(value: object) -> None:
    with pytest.raises(PayloadError, match=r"field 'amount' must be a decimal string"):
        fields(amount=value).major("amount", "CNY")


@pytest.mark.parametrize("text", ["12,50", "¥12.50", "abc", "1e3", "12.5.0"])
def test_non_numeric_yuan_strings_are_refused(text: str) -> None:
    with pytest.raises(PayloadError, match=r"field 'amount' is not a valid CNY amount"):
        fields(amount=text).major("amount", "CNY")


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(PayloadError, match="must not be negative"):
        fields(amount="-1.00").major("amount", "CNY")
    with pytest.raises(PayloadError, match="must not be negative"):
        fields(amount=-100).fen("amount")


def test_fen_accepts_integers_and_digit_strings() -> None:
    assert fields(amount=1590).fen("amount") == Money(1590, "CNY")
    assert fields(amount="1590").fen("amount") == Money(1590, "CNY")


@pytest.mark.parametrize("value", [15.9, 1590.0])
def test_fen_refuses_floats_even_whole_ones(value: float) -> None:
    with pytest.raises(PayloadError, match=r"'amount' must be an integer number of fen, got float"):
        fields(amount=value).fen("amount")


@pytest.mark.parametrize("value", ["15.90", "十五元", True, [1590]])
def test_fen_refuses_non_integers(value: object) -> None:
    with pytest.raises(PayloadError, match=r"'amount' must be an integer number of fen"):
        fields(amount=value).fen("amount")


def test_an_unsupported_currency_names_the_field() -> None:
    with pytest.raises(PayloadError, match=r"field 'amount' has an unsupported currency"):
        fields(amount="10.00").major("amount", "XYZ")


@pytest.mark.parametrize("data", [{}, {"refund_id": None}, {"refund_id": ""}, {"refund_id": "  "}])
def test_absent_null_and_blank_are_all_missing(data: dict[str, object]) -> None:
    with pytest.raises(PayloadError, match=r"^demo: missing field 'refund_id'$") as caught:
        Fields("demo", data).text("refund_id")
    assert caught.value.field == "refund_id"
    assert caught.value.code == "invalid_payload"


def test_nested_fields_are_named_by_dotted_path() -> None:
    f = fields(info={"items": [{"qty": 1}, {"qty": 2.5}]})
    rows = f.sub("info").rows("items")
    assert rows[0].integer("qty") == 1
    with pytest.raises(PayloadError, match=r"field 'info.items\[1\].qty' must be an integer"):
        rows[1].integer("qty")
    with pytest.raises(PayloadError, match=r"missing field 'info.name'"):
        f.sub("info").text("name")


def test_ids_may_be_numbers_but_not_floats_or_booleans() -> None:
    assert fields(tid=2198765432109876543).text("tid") == "2198765432109876543"
    with pytest.raises(PayloadError, match="must be a string or an integer id"):
        fields(tid=2.1e18).text("tid")
    with pytest.raises(PayloadError, match="must be a string or an integer id"):
        fields(tid=True).text("tid")


def test_times_come_out_as_aware_utc() -> None:
    f = fields(s=1741593600, ms=1741593600000, china="2025-03-10 16:00:00", zero=0)
    expected = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
    assert f.unix("s") == expected
    assert f.unix("ms", unit="ms") == expected
    assert f.unix("ms", unit="auto") == f.unix("s", unit="auto") == expected
    assert f.local_time("china") == expected
    assert f.opt_unix("zero") is None and f.opt_unix("absent") is None
    assert epoch_ms(expected) == 1741593600000


@pytest.mark.parametrize("text", ["2025/03/10 16:00:00", "2025-03-10T16:00:00", "yesterday"])
def test_badly_formatted_times_are_refused(text: str) -> None:
    with pytest.raises(PayloadError, match=r"field 'when' must be a time like"):
        fields(when=text).local_time("when")


def test_flags_accept_platform_spellings() -> None:
    f = fields(a=True, b=0, c="1", d="false")
    assert [f.flag(k) for k in "abcd"] == [True, False, True, False]
    assert f.flag("absent") is None
    with pytest.raises(PayloadError, match="must be a boolean"):
        fields(x="yes").flag("x")


def test_unwrap_takes_the_first_envelope_present() -> None:
    inner = {"refund_id": "1"}
    assert unwrap({"refund_get_response": {"refund": inner}}, "refund_get_response.refund") == inner
    assert unwrap(inner, "refund_get_response.refund") == inner
