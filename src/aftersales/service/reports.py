"""The measures a merchant watches (DOMAIN.md "Measures") for a period."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from aftersales.domain.clock import require_aware
from aftersales.domain.errors import Forbidden, InvalidInput
from aftersales.domain.vocabulary import Role
from aftersales.service.deps import Deps
from aftersales.service.ports import Principal
from aftersales.service.reconcile import differences_summary

REPORT_ROLES = frozenset({Role.admin, Role.agent, Role.finance})


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _hours(values: list[timedelta]) -> dict[str, float | None]:
    if not values:
        return {"median_hours": None, "mean_hours": None}
    hours = [v.total_seconds() / 3600 for v in values]
    return {"median_hours": round(median(hours), 2), "mean_hours": round(sum(hours) / len(hours), 2)}


def summary(deps: Deps, principal: Principal, start: datetime, end: datetime) -> dict[str, Any]:
    if principal.role not in REPORT_ROLES:
        raise Forbidden("reports are for staff")
    start, end = require_aware(start, "from"), require_aware(end, "to")
    if end <= start:
        raise InvalidInput("`to` must be after `from`", code="invalid_range")
    with deps.uow() as uow:
        data = uow.records.report_data(principal.shop_id, start, end)
        diffs = uow.ledger.differences(principal.shop_id, start, end)
    cases = data["cases"]
    n = len(cases)
    orders = data["orders"]
    returns = sum(1 for c in cases if c["type"] in ("return_refund", "exchange"))
    loss = {"goods": 0, "freight": 0, "compensation": 0}
    by_method: Counter[str] = Counter()
    for kind, method, amount, _ in data["refunds"]:
        loss[kind] = loss.get(kind, 0) + amount
        by_method[method] += amount
    disputed = {cid for cid, _, _, to in data["dispute_events"] if to == "disputed"}
    lost = {cid for cid, kind, d, _ in data["dispute_events"]
            if kind == "rule" and d.get("in_favor_of") == "buyer"}
    ruled = {cid for cid, kind, _, _ in data["dispute_events"] if kind == "rule"}
    timeouts = sum(v for k, v in data["timeouts"].items())
    ratings = Counter(c["rating"] for c in cases if c["rating"])
    by_sku: Counter[tuple[str, str, str]] = Counter()
    per_day: dict[str, Counter[str]] = {}
    for c in cases:
        per_day.setdefault(c["opened_at"].date().isoformat(), Counter())[c["reason"]] += 1
        for line in c["lines"]:
            sku, name = data["skus"].get(line["line_id"], ("?", "?"))
            by_sku[(sku, name, c["reason"])] += 1
    currency = cases[0]["currency"] if cases else "CNY"
    return {
        "from": start.isoformat(), "to": end.isoformat(), "currency": currency,
        "orders": orders, "cases": n, "refunded_orders": data["refunded_orders"],
        "refund_rate": _rate(data["refunded_orders"], orders), "return_rate": _rate(returns, orders),
        "timeouts": {"count": timeouts, "share": _rate(timeouts, n), "by_outcome": data["timeouts"]},
        "disputes": {"count": len(disputed), "ruled": len(ruled), "lost": len(lost),
                     "share_lost": _rate(len(lost), len(ruled))},
        "first_response": _hours([c["first_response_at"] - c["opened_at"] for c in cases
                                  if c["first_response_at"]]),
        "resolution": _hours([c["resolved_at"] - c["opened_at"] for c in cases if c["resolved_at"]]),
        "loss": {**loss, "total": sum(loss.values()), "sales": data["sales"],
                 "share_of_sales": _rate(sum(loss.values()), data["sales"]),
                 "by_method": dict(by_method)},
        "reconciliation_differences": differences_summary(diffs),
        "ratings": {str(k): v for k, v in sorted(ratings.items())},
        "bad_ratings": sum(v for k, v in ratings.items() if k <= 2),
        "by_state": dict(Counter(c["state"] for c in cases)),
        "top_reasons_by_sku": [{"sku": s, "name": nm, "reason": r, "cases": k}
                               for (s, nm, r), k in by_sku.most_common(10)],
        "cases_per_day": {day: dict(cnt) for day, cnt in sorted(per_day.items())},
    }
