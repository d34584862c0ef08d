"""Evidence checked beyond its first bytes, held to a quota, and served as what it is.

Every file here is real and built in the test: PDFs with scripts and actions, a
decompression-bomb PNG (Pillow), a truncated JPEG, photos of incompressible noise.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from aftersales.adapters.db.migrate import upgrade
from aftersales.entrypoints.api.app import create_app
from aftersales.entrypoints.bootstrap import ConfigError, bootstrap
from media import JPEG, MP4, PDF, PNG, SCRIPTED_PDFS, bomb_png, build_pdf, image, truncated_jpeg

from .helpers import Desk, Shop, assert_error
from .test_evidence import upload


def _case(desk: Desk, shop: Shop, role: str = "buyer") -> str:
    return str(desk.open_case(shop, desk.order(shop), reason="quality_issue", role=role)["id"])


def _get(desk: Desk, shop: Shop, case_id: str, evidence_id: str) -> object:
    res = desk.client.get(f"/api/v1/cases/{case_id}/evidence/{evidence_id}",
                          headers=shop.auth("agent"))
    assert res.status_code == 200, res.text
    return res


@pytest.mark.parametrize("name", sorted(SCRIPTED_PDFS))
def test_a_pdf_with_scripts_or_actions_is_refused(desk: Desk, name: str) -> None:
    shop = desk.shop()
    case_id = _case(desk, shop)
    assert_error(upload(desk, shop, case_id, "invoice.pdf", SCRIPTED_PDFS[name]), 422, "unsafe_pdf")
    listed = desk.client.get(f"/api/v1/cases/{case_id}/evidence", headers=shop.auth("agent"))
    assert listed.json()["items"] == []


def test_a_plain_pdf_with_a_link_is_kept_and_served_as_an_attachment(desk: Desk) -> None:
    shop = desk.shop()
    case_id = _case(desk, shop)
    linked = build_pdf(b"<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] "
                       b"/A << /S /URI /URI (https://example.com/) >> >>", page=b"/Annots [4 0 R]")
    for data in (PDF, linked):
        res = upload(desk, shop, case_id, "invoice.pdf", data)
        assert res.status_code == 201, res.text
        got = _get(desk, shop, case_id, res.json()["id"])
        assert got.content == data  # type: ignore[attr-defined]
        assert got.headers["content-disposition"].startswith("attachment;")  # type: ignore[attr-defined]


def test_an_unreadable_pdf_is_refused(desk: Desk) -> None:
    shop = desk.shop()
    case_id = _case(desk, shop)
    for data in (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", PDF[: len(PDF) // 3]):
        assert_error(upload(desk, shop, case_id, "x.pdf", data), 422, "invalid_pdf")


def test_a_decompression_bomb_and_a_truncated_jpeg_are_refused(desk: Desk) -> None:
    shop = desk.shop()
    case_id = _case(desk, shop)
    bomb = bomb_png()
    assert len(bomb) < 200_000  # small on the wire: the danger is in decoding it
    assert_error(upload(desk, shop, case_id, "bomb.png", bomb), 422, "invalid_image")
    assert_error(upload(desk, shop, case_id, "cut.jpg", truncated_jpeg()), 422, "invalid_image")
    listed = desk.client.get(f"/api/v1/cases/{case_id}/evidence", headers=shop.auth("agent"))
    assert listed.json()["items"] == []


def test_served_headers_say_what_the_file_is(desk: Desk) -> None:
    shop = desk.shop()
    case_id = _case(desk, shop)
    expected = {"image/png": "inline", "image/jpeg": "inline", "application/pdf": "attachment",
                "video/mp4": "attachment"}
    for data in (PNG, JPEG, PDF, MP4):
        meta = upload(desk, shop, case_id, "evidence.bin", data).json()  # type: ignore[attr-defined]
        got = _get(desk, shop, case_id, meta["id"])
        h = got.headers  # type: ignore[attr-defined]
        assert h["x-content-type-options"] == "nosniff"
        assert "sandbox" in h["content-security-policy"]
        assert "default-src 'none'" in h["content-security-policy"]
        disposition, _, name = h["content-disposition"].partition(";")
        assert disposition == expected[meta["content_type"]], (meta["content_type"], h)
        assert meta["id"] in name and "evidence.bin" not in name


def test_a_stored_image_that_no_longer_decodes_is_not_served_inline(desk: Desk) -> None:
    """A file stored before the checks existed is checked again as it is served."""
    shop = desk.shop()
    case_id = _case(desk, shop)
    own = image("PNG", (9, 7), color=(7, 9, 11))  # its own blob: the store is shared
    meta = upload(desk, shop, case_id, "p.png", own).json()  # type: ignore[attr-defined]
    with desk.app.deps.uow() as uow:
        digest = str(uow.evidence.evidence(shop.id, case_id)[0]["sha256"])
    root: Path = desk.app.deps.blobs.root  # type: ignore[union-attr]
    (root / digest[:2] / digest).write_bytes(bomb_png())  # as an unchecked upload left it
    got = _get(desk, shop, case_id, meta["id"])
    assert got.headers["content-disposition"].startswith("attachment;")  # type: ignore[attr-defined]


# --- quotas -----------------------------------------------------------------------------------

def noise(side: int = 300) -> bytes:
    """A real PNG that does not compress: about side² × 3 bytes."""
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def quota_desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    for name, value in (("CASE_FILES", "3"), ("CASE_MB", "1"), ("BUYER_FILES", "4"),
                        ("BUYER_MB", "2")):
        monkeypatch.setenv(f"AFTERSALES_EVIDENCE_{name}", value)
    app = bootstrap(f"sqlite:///{tmp_path / 'q.db'}", evidence_dir=tmp_path / "evidence")
    upgrade(app.engine)
    with TestClient(create_app(app), raise_server_exceptions=False) as client:
        yield Desk(client, app)
    app.engine.dispose()


def test_a_case_holds_a_bounded_number_of_files(quota_desk: Desk) -> None:
    desk = quota_desk
    shop = desk.shop()
    case_id = _case(desk, shop)
    for i in range(3):
        res = upload(desk, shop, case_id, f"{i}.png", PNG if i % 2 else JPEG,
                     role="buyer" if i < 2 else "agent")
        assert res.status_code == 201, res.text
    for role in ("buyer", "agent"):  # staff uploads count for the case too
        err = assert_error(upload(desk, shop, case_id, "more.png", PNG, role=role), 413,
                           "evidence_quota_exceeded")
        assert "3 files" in err["message"]


def test_a_case_holds_a_bounded_number_of_bytes(quota_desk: Desk) -> None:
    desk = quota_desk
    shop = desk.shop()
    case_id = _case(desk, shop)
    big = noise(350)  # ≈ 368 kB each: two fit in 1 MB, three do not
    assert 1024 * 1024 / 3 < len(big) < 1024 * 1024 / 2
    for _ in range(2):
        assert upload(desk, shop, case_id, "big.png", big).status_code == 201
    assert_error(upload(desk, shop, case_id, "big.png", big), 413, "evidence_quota_exceeded")
    assert upload(desk, shop, case_id, "small.png", PNG).status_code == 201  # a small one fits


def test_a_buyer_uploads_a_bounded_amount_across_their_cases(quota_desk: Desk) -> None:
    desk = quota_desk
    shop = desk.shop(buyers=("buyer-1", "buyer-2"))
    cases = [_case(desk, shop) for _ in range(3)]
    for case_id in cases[:2]:
        for _ in range(2):
            assert upload(desk, shop, case_id, "p.png", PNG).status_code == 201
    assert_error(upload(desk, shop, cases[2], "p.png", PNG), 413, "evidence_quota_exceeded")
    # staff are not held to the buyer's quota, and another buyer has their own
    assert upload(desk, shop, cases[2], "p.png", PNG, role="agent").status_code == 201
    other = str(desk.open_case(shop, desk.order(shop, buyer="buyer-2"), reason="quality_issue",
                               role="buyer:buyer-2")["id"])
    assert upload(desk, shop, other, "p.png", PNG, role="buyer:buyer-2").status_code == 201


def test_a_buyers_bytes_are_bounded_too(quota_desk: Desk) -> None:
    desk = quota_desk
    shop = desk.shop()
    big = noise(420)  # ≈ 530 kB: three fit in 2 MB, a fourth does not (and 1 MB a case)
    cases = [_case(desk, shop) for _ in range(4)]
    for case_id in cases[:3]:
        assert upload(desk, shop, case_id, "big.png", big).status_code == 201
    assert_error(upload(desk, shop, cases[3], "big.png", big), 413, "evidence_quota_exceeded")


def test_a_bad_quota_setting_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERSALES_EVIDENCE_CASE_FILES", "lots")
    with pytest.raises(ConfigError, match="AFTERSALES_EVIDENCE_CASE_FILES"):
        bootstrap(f"sqlite:///{tmp_path / 'q.db'}", evidence_dir=tmp_path / "evidence")


# --- where evidence lives ---------------------------------------------------------------------

def test_evidence_never_shares_the_database_folder(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    db = f"sqlite:///{tmp_path / 'data' / 'a.db'}"
    for folder in (tmp_path / "data", tmp_path):
        with pytest.raises(ConfigError, match="holds the database file"):
            bootstrap(db, evidence_dir=folder)
        monkeypatch.setenv("AFTERSALES_EVIDENCE_DIR", str(folder))
        with pytest.raises(ConfigError, match="holds the database file"):
            bootstrap(db)
    monkeypatch.delenv("AFTERSALES_EVIDENCE_DIR")
    monkeypatch.setenv("AFTERSALES_DATA_DIR", str(tmp_path / "data"))
    app = bootstrap(db)  # the default: <data dir>/evidence, beside the database, not around it
    assert app.deps.blobs.root == tmp_path / "data" / "evidence"  # type: ignore[union-attr]
    app.engine.dispose()
