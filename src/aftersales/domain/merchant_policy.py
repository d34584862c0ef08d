"""The merchant's own policy, per shop, on top of the platform profile — data, not code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from aftersales.domain.errors import InvalidInput
from aftersales.domain.vocabulary import CaseType, Reason

# 网络购买商品七日无理由退货暂行办法 第六条: excluded by law, whatever the merchant says.
LAW_EXCLUDED_CATEGORIES = frozenset({
    "custom_made", "fresh", "perishable", "digital_downloaded", "audio_video_opened",
    "software_opened", "newspapers_periodicals",
})
# 同办法 第九条: what makes goods no longer "complete", per category.
SEALED_CATEGORIES = frozenset({"food", "cosmetics", "medical_device"})
TAGGED_CATEGORIES = frozenset({"apparel", "shoes", "bags", "toys", "home_textiles"})
ELECTRONICS = frozenset({"electronics"})


def _whole(value: Any, name: str, *, optional: bool = False) -> Any:
    """Amounts are integer minor units and counts are integers: never floats (DOMAIN.md)."""
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class AutoApproveRule:
    """Approve at once when every condition holds (e.g. refund-only under ¥30, clean history)."""

    max_amount: int  # minor units
    types: frozenset[CaseType] = frozenset({CaseType.refund_only})
    reasons: frozenset[Reason] | None = None  # None: any reason
    max_buyer_cases: int | None = None  # buyer's earlier cases at this shop
    no_abuse: bool = True  # buyer has no abuse flag


@dataclass(frozen=True, slots=True)
class MerchantPolicy:
    no_reason_days: int | None = None  # None: the platform's window (at least the law's 7)
    excluded_categories: frozenset[str] = frozenset()  # on top of the law's
    require_evidence: bool = True
    buyer_pays_no_reason_freight: bool = True
    # minor units of return freight the merchant reimburses at most; None: the platform
    # profile's default bound (rules.return_freight_cap_default) — never unbounded
    return_freight_cap: int | None = 2000
    auto_approve: tuple[AutoApproveRule, ...] = ()
    counter_offer_percent: int | None = None  # suggest a partial refund for quality claims
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def counts_buyer_cases(self) -> bool:
        """An auto-approval rule looks at the buyer's earlier cases (on every order)."""
        return any(r.max_buyer_cases is not None for r in self.auto_approve)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["excluded_categories"] = sorted(self.excluded_categories)
        data["auto_approve"] = [
            {**asdict(r), "types": sorted(r.types),
             "reasons": None if r.reasons is None else sorted(r.reasons)}
            for r in self.auto_approve
        ]
        data["extra"] = dict(self.extra)
        return data

    @classmethod
    def checked(cls, data: Mapping[str, Any]) -> MerchantPolicy:
        """A policy a merchant sends: `from_dict`, and what reading a stored one forgives
        refused — a category that is not a name, an alert address no mail can go to."""
        try:
            _texts(data.get("excluded_categories", []), "excluded_categories")
            _extra(data.get("extra", {}))
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"invalid merchant policy: {exc}", code="invalid_policy") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> MerchantPolicy:
        if not data:
            return cls()
        try:
            rules = tuple(
                AutoApproveRule(
                    max_amount=_whole(r["max_amount"], "auto_approve.max_amount"),
                    types=frozenset(CaseType(t) for t in r.get("types", ["refund_only"])),
                    reasons=None if r.get("reasons") is None
                    else frozenset(Reason(x) for x in r["reasons"]),
                    max_buyer_cases=_whole(r.get("max_buyer_cases"), "auto_approve.max_buyer_cases",
                                           optional=True),
                    no_abuse=bool(r.get("no_abuse", True)),
                )
                for r in data.get("auto_approve", [])
            )
            return cls(
                no_reason_days=_whole(data.get("no_reason_days"), "no_reason_days", optional=True),
                excluded_categories=frozenset(
                    v for v in data.get("excluded_categories", []) if isinstance(v, str)),
                require_evidence=bool(data.get("require_evidence", True)),
                buyer_pays_no_reason_freight=bool(data.get("buyer_pays_no_reason_freight", True)),
                return_freight_cap=_whole(data.get("return_freight_cap", 2000), "return_freight_cap",
                                          optional=True),
                auto_approve=rules,
                counter_offer_percent=_whole(data.get("counter_offer_percent"), "counter_offer_percent",
                                             optional=True),
                extra=dict(data.get("extra", {})),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidInput(f"invalid merchant policy: {exc}", code="invalid_policy") from None


def _texts(values: Any, what: str) -> list[str]:
    """A list of non-empty strings (categories are compared with the order's, as text)."""
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise ValueError(f"{what} is a list of names")
    return values


def _extra(values: Any) -> dict[str, Any]:
    """Free-form settings, except the one the notifier mails to: an address it can store
    (at most 254 characters, one @, no control characters)."""
    extra = dict(values)
    email = extra.get("alert_email")
    if email is not None and not is_email(email):
        raise ValueError("extra.alert_email is one e-mail address")
    return extra


def is_email(value: Any) -> bool:
    """One address a mail can go to and the notifications table can hold."""
    return (isinstance(value, str) and 3 <= len(value) <= 254 and value.count("@") == 1
            and value.isprintable() and not any(c in value for c in " ,;<>"))
