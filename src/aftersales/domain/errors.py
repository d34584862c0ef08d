"""Domain errors carry a stable snake_case code; edges translate them.

    DomainError                      (code, message)
    ├── InvalidTransition            invalid_transition: action not allowed in this state
    ├── Forbidden                    forbidden: this actor may not take this action
    ├── RuleRefused                  a platform/merchant rule refuses outright, e.g.
    │                                after_sales_window_closed, after_sales_already_used,
    │                                amount_exceeds_refundable, cannot_refuse
    ├── InvalidInput                 a value the domain cannot accept (bad amount, currency…)
    └── ProfileError                 a platform profile that does not validate (file + key)
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    code = "domain_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidTransition(DomainError):
    code = "invalid_transition"


class Forbidden(DomainError):
    code = "forbidden"


class RuleRefused(DomainError):
    """A request the platform's or merchant's rules refuse outright (HTTP 422)."""

    code = "rule_refused"


class InvalidInput(DomainError):
    code = "invalid_input"


class ProfileError(DomainError):
    code = "invalid_profile"
