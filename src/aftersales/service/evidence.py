"""Evidence uploads: capped in size, typed by their bytes, and a new look at the policy."""

from __future__ import annotations

from typing import Any

from aftersales.domain.errors import DomainError, InvalidInput
from aftersales.domain.vocabulary import EvidenceKind
from aftersales.service.casework import load, save
from aftersales.service.deps import Deps
from aftersales.service.errors import NotFound
from aftersales.service.ports import BlobStore, Principal

KIND_BY_TYPE = {"image": EvidenceKind.photo, "video": EvidenceKind.video}


class FileTooLarge(DomainError):
    code = "file_too_large"


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"


def _kind(content_type: str, asked: str | None) -> EvidenceKind:
    default = KIND_BY_TYPE.get(content_type.split("/")[0], EvidenceKind.other)
    if asked is None:
        return default
    try:
        kind = EvidenceKind(asked)
    except ValueError:
        raise InvalidInput(f"unknown evidence kind {asked!r}", code="invalid_kind") from None
    if kind in (EvidenceKind.photo, EvidenceKind.video) and kind is not default:
        raise InvalidInput(f"a {content_type} file is not a {kind}", code="invalid_kind")
    return kind


def add_evidence(deps: Deps, principal: Principal, case_id: str, data: bytes,
                 filename: str | None, *, blobs: BlobStore | None = None,
                 kind: str | None = None, max_bytes: int | None = None) -> dict[str, Any]:
    blobs = _blobs(deps, blobs)
    max_bytes = max_bytes or deps.max_upload_bytes
    if len(data) > max_bytes:
        raise FileTooLarge(f"file is larger than {max_bytes // (1024 * 1024)} MB")
    if not data:
        raise InvalidInput("empty file", code="empty_file")
    content_type = blobs.sniff(data)
    if content_type is None:
        raise UnsupportedMediaType("only images, mp4/mov/webm videos and PDFs are accepted "
                                   "(checked from the file's content, not its name)")
    ev_kind = _kind(content_type, kind)
    with deps.uow() as uow:
        loaded = load(deps, uow.store, principal, case_id, lock=True)
        now = deps.now_for(loaded.shop)
        digest = blobs.put(data)
        name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1][:255] or None
        row = {"id": deps.new_id(), "kind": ev_kind.value, "content_type": content_type,
               "size": len(data), "sha256": digest, "filename": name,
               "uploaded_by": str(principal.actor), "at": now}
        uow.store.add_evidence(principal.shop_id, case_id, row)
        loaded.case.record("evidence_added", principal.actor, now,
                           f"{ev_kind} evidence uploaded ({content_type}, {len(data)} bytes)",
                           data={"evidence_id": row["id"]})
        save(uow.store, loaded, now, principal.role)
        uow.commit()
    return row


def list_evidence(deps: Deps, principal: Principal, case_id: str) -> list[dict[str, Any]]:
    with deps.uow() as uow:
        load(deps, uow.store, principal, case_id)
        return uow.store.evidence(principal.shop_id, case_id)


def _blobs(deps: Deps, blobs: BlobStore | None) -> BlobStore:
    found = blobs or deps.blobs
    if found is None:
        raise RuntimeError("no evidence store configured")
    return found


def open_evidence(deps: Deps, principal: Principal, case_id: str, evidence_id: str, *,
                  blobs: BlobStore | None = None) -> tuple[bytes, str]:
    with deps.uow() as uow:
        load(deps, uow.store, principal, case_id)
        rows = [r for r in uow.store.evidence(principal.shop_id, case_id) if r["id"] == evidence_id]
    if not rows:
        raise NotFound(f"no evidence {evidence_id}", code="evidence_not_found")
    return _blobs(deps, blobs).get(rows[0]["sha256"]), rows[0]["content_type"]
