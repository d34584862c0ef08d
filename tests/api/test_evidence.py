"""Evidence uploads: typed from the bytes, capped, stored by content hash, served safely."""

from __future__ import annotations

from pathlib import Path

from aftersales.entrypoints.bootstrap import App
from media import JPEG, MP4, PDF, PNG

from .conftest import UPLOAD_CAP
from .helpers import Desk, Shop, assert_error


def _case(desk: Desk, shop: Shop, reason: str = "quality_issue") -> dict[str, object]:
    return desk.open_case(shop, desk.order(shop), reason=reason)


def upload(desk: Desk, shop: Shop, case_id: object, name: str, data: bytes,
           role: str = "buyer", ctype: str = "application/octet-stream") -> object:
    return desk.client.post(f"/api/v1/cases/{case_id}/evidence", files={"file": (name, data, ctype)},
                            headers=shop.auth(role))


def test_upload_list_and_download(desk: Desk) -> None:
    shop = desk.shop()
    case = _case(desk, shop)
    res = upload(desk, shop, case["id"], "photo.png", PNG)
    assert res.status_code == 201, res.text
    meta = res.json()
    assert meta["content_type"] == "image/png" and meta["size"] == len(PNG) and meta["id"]
    items = desk.client.get(f"/api/v1/cases/{case['id']}/evidence", headers=shop.auth("agent")).json()
    assert [i["id"] for i in items["items"]] == [meta["id"]]
    got = desk.client.get(f"/api/v1/cases/{case['id']}/evidence/{meta['id']}", headers=shop.auth("agent"))
    assert got.status_code == 200
    assert got.content == PNG
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "photo.png" not in got.headers.get("content-disposition", "")


def test_the_type_comes_from_the_bytes_not_the_name(desk: Desk) -> None:
    shop = desk.shop()
    case = _case(desk, shop)
    for name, data, ctype in (("scan.bin", PDF, "application/pdf"), ("clip.txt", MP4, "video/mp4"),
                              ("pic.pdf", JPEG, "image/jpeg")):
        res = upload(desk, shop, case["id"], name, data)
        assert res.status_code == 201, res.text
        assert res.json()["content_type"] == ctype


def test_a_script_named_jpg_is_415(desk: Desk) -> None:
    shop = desk.shop()
    case = _case(desk, shop)
    for data in (b"<script>alert(document.cookie)</script>", b"#!/bin/sh\nrm -rf /\n",
                 b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", b"MZ\x90\x00" * 16):
        res = upload(desk, shop, case["id"], "holiday.jpg", data, ctype="image/jpeg")
        assert_error(res, 415, "unsupported_media_type")
    listed = desk.client.get(f"/api/v1/cases/{case['id']}/evidence", headers=shop.auth("agent"))
    assert listed.json()["items"] == []


def test_path_traversal_in_the_name_goes_nowhere(desk: Desk, api_app: App, tmp_path: Path) -> None:
    shop = desk.shop()
    case = _case(desk, shop)
    evil = "../../../../../../tmp/aftersales-evil.png"
    res = upload(desk, shop, case["id"], evil, PNG)
    assert res.status_code == 201, res.text
    assert not Path("/tmp/aftersales-evil.png").exists()
    items = desk.client.get(f"/api/v1/cases/{case['id']}/evidence", headers=shop.auth("agent")).json()
    assert "/" not in (items["items"][0]["filename"] or "")
    for name in ("..\\..\\win.png", "a\x00b.png", "\u202egnp.exe"):
        assert upload(desk, shop, case["id"], name, PNG).status_code == 201


def test_evidence_ids_are_not_paths(desk: Desk) -> None:
    shop = desk.shop()
    case = _case(desk, shop)
    for eid in ("..%2F..%2Fetc%2Fpasswd", "nope", "%2e%2e"):
        res = desk.client.get(f"/api/v1/cases/{case['id']}/evidence/{eid}", headers=shop.auth("agent"))
        assert res.status_code == 404, res.text


def test_oversized_uploads_are_413(desk: Desk) -> None:
    shop = desk.shop()
    case = _case(desk, shop)
    just_over = PNG + b"\x00" * (UPLOAD_CAP - len(PNG) + 1024)  # past the service's cap
    assert_error(upload(desk, shop, case["id"], "big.png", just_over), 413, "file_too_large")
    far_over = PNG + b"\x00" * (3 * UPLOAD_CAP)  # refused by the body limit before parsing
    assert_error(upload(desk, shop, case["id"], "huge.png", far_over), 413, "file_too_large")


def test_empty_and_missing_files(desk: Desk) -> None:
    shop = desk.shop()
    case = _case(desk, shop)
    assert_error(upload(desk, shop, case["id"], "empty.png", b""), 422)
    res = desk.client.post(f"/api/v1/cases/{case['id']}/evidence", data={"other": "x"},
                           headers=shop.auth("buyer"))
    assert_error(res, 422, "validation_error")
    res = desk.client.post(f"/api/v1/cases/{case['id']}/evidence", json={"file": "x"},
                           headers=shop.auth("buyer"))
    assert_error(res, 422, "validation_error")


def test_an_upload_re_evaluates_the_recommendation(desk: Desk) -> None:
    shop = desk.shop()
    case = _case(desk, shop, "quality_issue")
    before = case["recommendation"]
    assert before["decision"] == "needs_evidence", before
    assert upload(desk, shop, case["id"], "seam.png", PNG).status_code == 201
    after = desk.case(shop, case["id"])["recommendation"]
    assert after["decision"] != "needs_evidence", after
    kinds = [e["kind"] for e in desk.case(shop, case["id"])["events"]]
    assert "evidence_added" in kinds


def test_another_buyer_cannot_upload_or_read(desk: Desk) -> None:
    shop = desk.shop(buyers=("buyer-1", "buyer-2"))
    case = _case(desk, shop)
    meta = upload(desk, shop, case["id"], "p.png", PNG).json()
    assert_error(upload(desk, shop, case["id"], "p.png", PNG, role="buyer:buyer-2"), 404)
    res = desk.client.get(f"/api/v1/cases/{case['id']}/evidence/{meta['id']}",
                          headers=shop.auth("buyer:buyer-2"))
    assert_error(res, 404)
