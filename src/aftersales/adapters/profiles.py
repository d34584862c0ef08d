"""Platform rule profiles read from the packaged TOML files (src/aftersales/profiles/).

The shape and its validation belong to the domain (domain/profile.py, `profile_from_dict`);
this adapter only finds the files, parses them and adds the checks that need the file
itself. Those extra checks exist because TOML is forgiving where a rule profile must not
be: a misspelt key (`alternative` for `alternatives`, `hour` for `hours`) would otherwise
be ignored silently and a deadline would quietly change. Every error names the file and
the key, so whoever edits a profile sees at once what to fix.

Profiles are read once per process (they are data shipped with the code); a case records
the profile id and version it opened under, so a changed file never moves deadlines of
cases in flight.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from aftersales.domain.errors import ProfileError
from aftersales.domain.money import CURRENCIES
from aftersales.domain.profile import Profile, profile_from_dict

PLATFORMS: tuple[str, ...] = (
    "taobao", "tmall", "kuaishou", "douyin", "pinduoduo", "aliexpress",
    "alibaba_1688", "wechat_shop", "own_store",
)

# Keys each part of a profile file may hold; anything else is a typo.
_TOP = frozenset({"profile", "rules", "deadlines", "freight", "status_map"})
_HEAD = frozenset({"id", "version", "name", "currencies", "near_timeout_share",
                   "near_timeout_hours"})
_RULE = frozenset({"value", "source", "confidence"})
_DEADLINE = frozenset({"rule", "state", "types", "when", "hours", "days", "minutes", "outcome",
                       "source", "confidence", "zh", "en", "anchor", "alternatives", "fallback"})
_ALTERNATIVE = frozenset({"hours", "days", "minutes", "source", "confidence"})
_FREIGHT = frozenset({"outbound_refunded", "return_paid_by"})


def load_profile(platform: str) -> Profile:
    """The packaged profile of one platform (cached)."""
    if platform not in PLATFORMS:
        raise ProfileError(
            f"unknown platform {platform!r}; known platforms: {', '.join(PLATFORMS)}",
            code="unknown_platform",
        )
    return _load_packaged(platform)


def load_all() -> dict[str, Profile]:
    """Every packaged profile, keyed by platform id, in PLATFORMS order."""
    return {platform: load_profile(platform) for platform in PLATFORMS}


def load_profile_file(path: str | Path) -> Profile:
    """A profile from any file (not cached): for drafts, tests and `aftersales` tooling."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"{file}: cannot read profile file: {exc.strerror}") from None
    return parse_profile(text, origin=str(file), expected_id=file.stem)


@cache
def _load_packaged(platform: str) -> Profile:
    resource = resources.files("aftersales.profiles").joinpath(f"{platform}.toml")
    text = resource.read_text(encoding="utf-8")
    return parse_profile(text, origin=f"profiles/{platform}.toml", expected_id=platform,
                         fallbacks=internal_targets())


@cache
def internal_targets() -> tuple[Mapping[str, Any], ...]:
    """profiles/internal_targets.toml: flag_overdue floors where a profile has no rule."""
    origin = "profiles/internal_targets.toml"
    text = resources.files("aftersales.profiles").joinpath("internal_targets.toml").read_text(
        encoding="utf-8")
    try:
        entries = tomllib.loads(text).get("fallback", [])
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{origin}: not valid TOML: {exc}") from None
    for i, entry in enumerate(entries):
        _only(_table(entry, f"{origin}: fallback[{i}]"), _DEADLINE, f"{origin}: fallback[{i}]")
        if entry.get("outcome") != "flag_overdue":
            raise ProfileError(f"{origin}: fallback[{i}].outcome: internal targets only flag "
                               "(flag_overdue); they never decide for the merchant")
    return tuple(entries)


def parse_profile(text: str, *, origin: str, expected_id: str | None = None,
                  fallbacks: tuple[Mapping[str, Any], ...] = ()) -> Profile:
    """Parse and validate one profile document; `origin` names it in every error."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{origin}: not valid TOML: {exc}") from None
    _check_keys(data, origin)
    if fallbacks:
        pid = data.get("profile", {}).get("id", expected_id)
        data = {**data, "deadlines": [*data.get("deadlines", []), *(
            {**entry, "rule": f"{pid}.{entry['rule']}", "fallback": True} for entry in fallbacks)]}
    profile = profile_from_dict(data, origin)
    if expected_id is not None and profile.id != expected_id:
        raise ProfileError(
            f"{origin}: profile.id: {profile.id!r} must equal the file name {expected_id!r}"
        )
    unknown = [c for c in profile.currencies if c not in CURRENCIES]
    if not profile.currencies or unknown:
        raise ProfileError(
            f"{origin}: profile.currencies: {unknown or 'empty'} not in {sorted(CURRENCIES)}"
        )
    return profile


def _check_keys(data: Mapping[str, Any], origin: str) -> None:
    _only(data, _TOP, f"{origin}: top level")
    _only(_table(data.get("profile", {}), f"{origin}: profile"), _HEAD, f"{origin}: profile")
    for name, entry in _table(data.get("rules", {}), f"{origin}: rules").items():
        if isinstance(entry, Mapping):
            _only(entry, _RULE, f"{origin}: rules.{name}")
    deadlines = data.get("deadlines", [])
    if not isinstance(deadlines, list):
        raise ProfileError(f"{origin}: deadlines: must be an array of tables ([[deadlines]])")
    seen: dict[object, int] = {}
    for i, entry in enumerate(deadlines):
        where = f"{origin}: deadlines[{i}]"
        _only(_table(entry, where), _DEADLINE, where)
        code = entry.get("rule")
        if code in seen:
            raise ProfileError(f"{where}.rule: duplicate rule code {code!r} "
                               f"(also deadlines[{seen[code]}])")
        seen[code] = i
        if "types" in entry and not (isinstance(entry["types"], list) and entry["types"]):
            raise ProfileError(f"{where}.types: a non-empty list of case types (omit for all)")
        for j, alt in enumerate(entry.get("alternatives", [])):
            _only(_table(alt, f"{where}.alternatives[{j}]"), _ALTERNATIVE,
                  f"{where}.alternatives[{j}]")
    for name, entry in _table(data.get("freight", {}), f"{origin}: freight").items():
        fwhere = f"{origin}: freight.{name}"
        _only(_table(entry, fwhere), _FREIGHT, fwhere)
        if not isinstance(entry.get("outbound_refunded"), bool):
            raise ProfileError(f"{fwhere}.outbound_refunded: must be true or false")


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProfileError(f"{where}: must be a table")
    return value


def _only(entry: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    extra = sorted(set(entry) - allowed)
    if extra:
        raise ProfileError(f"{where}: unknown key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})")
