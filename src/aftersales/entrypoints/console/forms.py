"""Form fields → the domain's ActionRequest. Only parsing lives here; every rule stays in the domain."""

from __future__ import annotations

from starlette.datastructures import FormData

from aftersales.domain.case import ActionRequest, Inspection
from aftersales.domain.errors import InvalidInput
from aftersales.domain.money import Money
from aftersales.domain.vocabulary import Condition, Disposition, RefundMethod
from aftersales.entrypoints.console.web import form_bool, form_str

# Fields a confirmation page carries over unchanged (everything but the token and the files).
SKIP = frozenset({"csrf", "confirm", "photo", "photos", "file"})


def amount(form: FormData, name: str, currency: str) -> Money | None:
    text = form_str(form, name)
    return Money.parse_major(text, currency) if text else None


def _method(form: FormData) -> RefundMethod | None:
    text = form_str(form, "refund_method")
    if not text:
        return None
    try:
        return RefundMethod(text)
    except ValueError:
        raise InvalidInput(f"unknown refund method {text!r}", code="invalid_refund_method") from None


def _prepaid(form: FormData) -> bool | None:
    text = form_str(form, "prepaid")
    return None if not text else text in ("1", "true", "on", "yes")


def inspection(form: FormData, line_ids: list[str]) -> Inspection:
    try:
        condition = Condition(form_str(form, "condition") or "new")
    except ValueError:
        raise InvalidInput("unknown condition", code="invalid_condition") from None
    dispositions: dict[str, str] = {}
    for line_id in line_ids:
        value = form_str(form, f"disp_{line_id}")
        if value:
            try:
                dispositions[line_id] = Disposition(value).value
            except ValueError:
                raise InvalidInput("unknown disposition", code="invalid_disposition") from None
    quality = form_str(form, "quality_problem_found")
    notes = [form_str(form, "note")]
    short = [f"{lid[-6:]}: {form_str(form, f'qty_{lid}')}/{form_str(form, f'qty_expected_{lid}')}"
             for lid in line_ids
             if form_str(form, f"qty_{lid}") and form_str(form, f"qty_{lid}") != form_str(
                 form, f"qty_expected_{lid}")]
    if short:
        notes.append("quantity received: " + ", ".join(short))
    return Inspection(
        verdict=form_str(form, "verdict"), condition=condition,
        sku_matches=form_bool(form, "sku_matches"),
        accessories_complete=all(form_bool(form, k) for k in ("dust_bag", "packaging", "accessories")),
        gifts_returned=form_bool(form, "gifts_returned"),
        tags_intact=form_bool(form, "tags"), seal_intact=not form_bool(form, "seal_broken"),
        packaging_only_flaw=form_bool(form, "packaging_only_flaw"),
        quality_problem_found=None if not quality else quality == "yes",
        note="; ".join(n for n in notes if n) or None, dispositions=dispositions,
    )


def action_request(action: str, form: FormData, currency: str, line_ids: list[str]) -> ActionRequest:
    return ActionRequest(
        amount=amount(form, "amount", currency), refund_method=_method(form),
        note=form_str(form, "note") or None, reason_code=form_str(form, "reason_code") or None,
        explanation=form_str(form, "explanation") or None, carrier=form_str(form, "carrier") or None,
        waybill=form_str(form, "waybill") or None, prepaid=_prepaid(form),
        inspection=inspection(form, line_ids) if action == "inspect" else None,
        statement=form_str(form, "statement") or None,
        in_favor_of=form_str(form, "in_favor_of") or None,
        reference=form_str(form, "reference") or None,
        return_freight=amount(form, "return_freight", currency),
    )


def carried(form: FormData) -> list[tuple[str, str]]:
    return [(k, v) for k, v in form.multi_items() if k not in SKIP and isinstance(v, str)]
