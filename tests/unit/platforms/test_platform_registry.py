"""The registry, the error type, and every fixture file against its adapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aftersales.adapters.platforms import PLATFORMS, PayloadError, adapter_for
from aftersales.adapters.platforms.reasons import map_reason
from aftersales.domain.sync import PlatformSnapshot
from aftersales.domain.vocabulary import Reason

FIXTURES = Path(__file__).parents[2] / "fixtures" / "platforms"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_adapter_for_every_platform_names_itself(platform: str) -> None:
    assert adapter_for(platform).platform == platform


def test_tmall_shares_taobao_parsing_but_keeps_its_name() -> None:
    payload = json.loads((FIXTURES / "taobao" / "refund_only_unshipped.json").read_text("utf-8"))
    assert adapter_for("tmall").parse(payload).platform == "tmall"
    assert adapter_for("taobao").parse(payload).platform == "taobao"


@pytest.mark.parametrize("platform", ["own_store", "jd", "", "TAOBAO"])
def test_unknown_platform_is_a_payload_error_with_its_own_code(platform: str) -> None:
    with pytest.raises(PayloadError) as caught:
        adapter_for(platform)
    assert caught.value.code == "unknown_platform"
    assert repr(platform) in caught.value.message
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_payload_that_is_not_an_object_is_refused(platform: str) -> None:
    with pytest.raises(PayloadError, match="must be a JSON object") as caught:
        adapter_for(platform).parse(["not", "an", "object"])  # type: ignore[arg-type]
    assert caught.value.code == "invalid_payload"


FIXTURE_FILES = sorted(FIXTURES.glob("*/*.json"))


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_parses(path: Path) -> None:
    snapshot = adapter_for(path.parent.name).parse(json.loads(path.read_text("utf-8")))
    assert isinstance(snapshot, PlatformSnapshot)
    assert snapshot.platform == path.parent.name
    assert snapshot.platform_case_id and snapshot.platform_order_id and snapshot.platform_status
    assert snapshot.deadline_at is None or snapshot.deadline_at.utcoffset() is not None


SYNC_FILES = sorted(FIXTURES.glob("*/sync.jsonl"))


def _every_payload() -> list[tuple[str, dict[str, object]]]:
    found = [(p.parent.name, json.loads(p.read_text("utf-8"))) for p in FIXTURE_FILES]
    for path in SYNC_FILES:
        found += [(path.parent.name, json.loads(line))
                  for line in path.read_text("utf-8").splitlines() if line.strip()]
    return found


@pytest.mark.parametrize(("platform", "payload"), _every_payload())
def test_order_key_is_the_order_parse_reads(platform: str, payload: dict[str, object]) -> None:
    """Bulk import sends all payloads of one order to one process by this key (ISSUE 3)."""
    adapter = adapter_for(platform)
    assert adapter.order_key(payload) == adapter.parse(payload).platform_order_id


@pytest.mark.parametrize("platform", PLATFORMS)
def test_order_key_of_a_payload_without_an_order_names_the_missing_field(platform: str) -> None:
    with pytest.raises(PayloadError, match=r"missing field|must be a JSON object"):
        adapter_for(platform).order_key({})


def test_every_platform_has_a_sync_file() -> None:
    assert {p.parent.name for p in SYNC_FILES} == set(PLATFORMS)


@pytest.mark.parametrize("path", SYNC_FILES, ids=lambda p: p.parent.name)
def test_sync_files_hold_one_case_in_version_order(path: Path) -> None:
    adapter = adapter_for(path.parent.name)
    lines = [line for line in path.read_text("utf-8").splitlines() if line.strip()]
    assert 3 <= len(lines) <= 6
    snapshots = [adapter.parse(json.loads(line)) for line in lines]
    assert len({s.platform_case_id for s in snapshots}) == 1
    versions = [s.version for s in snapshots]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert len({s.state for s in snapshots}) >= 3  # the case moves


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("七天无理由退换货", Reason.no_reason),
        ("7天无理由退货", Reason.no_reason),
        ("拍错/多拍/不喜欢", Reason.no_reason),
        ("不想要了", Reason.no_reason),
        ("NO_LONGER_WANT", Reason.no_reason),
        ("质量问题", Reason.quality_issue),
        ("商品质量问题", Reason.quality_issue),
        ("少件/漏发", Reason.missing_item),
        ("缺少配件", Reason.missing_item),
        ("发错货", Reason.wrong_item),
        ("收到商品与订单不符", Reason.wrong_item),
        ("与描述不符", Reason.not_as_described),
        ("颜色/图案/款式不符", Reason.not_as_described),
        ("收到商品与描述不符", Reason.not_as_described),
        ("未收到货", Reason.not_received),
        ("Package not received", Reason.not_received),
        ("快递破损", Reason.damaged_in_transit),
        ("物流丢失", Reason.lost_in_transit),
        ("物流延误", Reason.delayed_delivery),
        ("怀疑假货", Reason.counterfeit_claim),
        ("Product not as described", Reason.not_as_described),
        ("尺码不合适", Reason.other),
        ("其他", Reason.other),
    ],
)
def test_reason_text_maps_to_the_vocabulary(text: str, reason: Reason) -> None:
    assert map_reason(text) is reason


@pytest.mark.parametrize("text", [None, "", "   "])
def test_no_reason_text_is_no_reason(text: str | None) -> None:
    assert map_reason(text) is None
