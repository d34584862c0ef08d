"""Return parcels at the warehouse: scan a waybill, find the case or keep it for later."""

from __future__ import annotations

from typing import Any

from aftersales.domain.errors import Forbidden, InvalidInput
from aftersales.domain.vocabulary import Role
from aftersales.service.casework import Loaded, load, load_case
from aftersales.service.deps import Deps
from aftersales.service.errors import NotFound
from aftersales.service.ports import Principal

WAREHOUSE = frozenset({Role.warehouse, Role.admin})


def _clean(waybill: str) -> str:
    text = waybill.strip().upper()
    if not text or len(text) > 80 or not all(ch.isalnum() or ch in "-_" for ch in text):
        raise InvalidInput("a waybill is 1–80 letters, digits, - or _", code="invalid_waybill")
    return text


def scan(deps: Deps, principal: Principal, waybill: str, carrier: str | None = None) -> Loaded | None:
    """The case whose return has this waybill, or None after registering an unmatched parcel."""
    if principal.role not in WAREHOUSE:
        raise Forbidden("only the warehouse scans parcels")
    number = _clean(waybill)
    with deps.uow() as uow:
        shop = uow.shops.get_shop(principal.shop_id)
        assert shop is not None
        now = deps.now_for(shop)
        case = uow.cases.find_case_by_waybill(principal.shop_id, number) or (
            uow.cases.find_case_by_waybill(principal.shop_id, waybill.strip()))
        uow.records.add_parcel(principal.shop_id, {
            "id": deps.new_id(), "carrier": carrier, "waybill": number,
            "case_id": None if case is None else case.id,
            "status": "unmatched" if case is None else "matched", "scanned_at": now,
            "scanned_by": str(principal.actor)})
        loaded = None if case is None else load_case(deps, uow, principal.shop_id, case.id)
        uow.commit()
    return loaded


def list_parcels(deps: Deps, principal: Principal, status: str | None = None) -> list[dict[str, Any]]:
    if principal.role not in WAREHOUSE | {Role.agent}:
        raise Forbidden("only staff see parcels")
    with deps.uow() as uow:
        return uow.records.parcels(principal.shop_id, status)


def attach(deps: Deps, principal: Principal, parcel_id: str, case_id: str) -> Loaded:
    """Match an unmatched parcel to a case later (e.g. the buyer mistyped the waybill)."""
    if principal.role not in WAREHOUSE | {Role.agent}:
        raise Forbidden("only staff attach parcels")
    with deps.uow() as uow:
        loaded = load(deps, uow, principal, case_id)
        if not uow.records.attach_parcel(principal.shop_id, parcel_id, case_id):
            raise NotFound(f"no unmatched parcel {parcel_id}", code="parcel_not_found")
        now = deps.now_for(loaded.shop)
        loaded.case.record("parcel_attached", principal.actor, now,
                           f"unmatched parcel {parcel_id} attached to this case")
        from aftersales.service.casework import save

        save(uow, loaded, now, principal.role)
        uow.commit()
    return loaded
