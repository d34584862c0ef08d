"""Evidence through the desk's forms: checked beyond the first bytes, served as what it is."""

from __future__ import annotations

from aftersales.entrypoints.bootstrap import App
from aftersales.entrypoints.console.sample import Sample
from console.console_helpers import sign_in
from media import JPEG, PDF, SCRIPTED_PDFS, bomb_png, truncated_jpeg


def _upload(client, csrf: str, case_id: str, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return client.post(f"/cases/{case_id}/evidence", data={"csrf": csrf},
                       files={"photos": (name, data, "application/octet-stream")})


def _stored(app: App, sample: Sample, case_id: str) -> list[dict[str, object]]:
    with app.deps.uow() as uow:
        return uow.evidence.evidence(sample.shop_id, case_id)


def test_the_desk_refuses_scripted_pdfs_bombs_and_broken_images(client, world) -> None:
    app, sample = world
    case_id = sample.other_case_ids[0]
    csrf = sign_in(client, "agent")
    bad = {"js.pdf": SCRIPTED_PDFS["open_action_js"], "launch.pdf": SCRIPTED_PDFS["launch"],
           "bomb.png": bomb_png(), "cut.jpg": truncated_jpeg()}
    before = len(_stored(app, sample, case_id))
    for name, data in bad.items():
        assert _upload(client, csrf, case_id, name, data).status_code == 303
    assert len(_stored(app, sample, case_id)) == before
    page = client.get(f"/cases/{case_id}").text
    assert "PDF 含脚本或自动操作，不予接收" in page  # the flash, in the desk's language
    assert "图片无法解码" in page


def test_the_desk_serves_images_inline_and_pdfs_as_downloads(client, world) -> None:
    app, sample = world
    case_id = sample.other_case_ids[0]
    csrf = sign_in(client, "agent")
    for data in (JPEG, PDF):
        assert _upload(client, csrf, case_id, "x", data).status_code == 303
    served = {}
    for row in _stored(app, sample, case_id):
        res = client.get(f"/cases/{case_id}/evidence/{row['id']}")
        assert res.status_code == 200
        assert res.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in res.headers["content-security-policy"]
        served[row["content_type"]] = res.headers["content-disposition"].split(";")[0]
    assert served["image/jpeg"] == "inline" and served["application/pdf"] == "attachment"
