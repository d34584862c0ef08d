"""Evidence uploads: capped in size and quota, typed and checked by their bytes, and a new
look at the policy.

The quota is checked with the case locked, so one case never goes past it; a buyer's
quota (files they uploaded across the shop's cases) can be passed by the uploads that run
at the same moment on their other cases, at most one file each.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from aftersales.domain.errors import DomainError, InvalidInput
from aftersales.domain.vocabulary import EvidenceKind, Role
from aftersales.service.casework import load, save
from aftersales.service.deps import Deps
from aftersales.service.errors import NotFound
from aftersales.service.ports import BlobStore, ContentChecker, Principal
from aftersales.service.repositories import UnitOfWork

KIND_BY_TYPE = {"image": EvidenceKind.photo, "video": EvidenceKind.video}


class FileTooLarge(DomainError):
    code = "file_too_large"


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"


class QuotaExceeded(DomainError):
    code = "evidence_quota_exceeded"


class UnsafeContent(DomainError):
    """A file of an accepted type whose content is refused (its code says why)."""

    def __init__(self, code: str) -> None:
        super().__init__(REFUSALS.get(code, "the file's content cannot be accepted"), code)


REFUSALS = {
    "unsafe_pdf": "PDFs with scripts or automatic actions (JavaScript, Launch, forms that "
                  "submit) are not accepted; print it to a plain PDF and upload that",
    "invalid_pdf": "this PDF cannot be read (damaged or password-protected), so it cannot "
                   "be checked",
    "invalid_image": "this image cannot be decoded (damaged, truncated, or too many pixels)",
}


class EvidenceFile(NamedTuple):
    data: bytes
    content_type: str
    inline: bool  # an image that decoded within bounds; anything else is an attachment


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
    refusal = deps.checks.refusal(data, content_type) if deps.checks else None
    if refusal is not None:
        raise UnsafeContent(refusal)
    with deps.uow() as uow:
        loaded = load(deps, uow, principal, case_id, lock=True)
        _check_quota(deps, uow, principal, loaded.case.buyer_id, case_id, len(data))
        now = deps.now_for(loaded.shop)
        digest = blobs.put(data)
        name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1][:255] or None
        row = {"id": deps.new_id(), "kind": ev_kind.value, "content_type": content_type,
               "size": len(data), "sha256": digest, "filename": name,
               "uploaded_by": str(principal.actor), "at": now}
        uow.evidence.add_evidence(principal.shop_id, case_id, row)
        loaded.case.record("evidence_added", principal.actor, now,
                           f"{ev_kind} evidence uploaded ({content_type}, {len(data)} bytes)",
                           data={"evidence_id": row["id"]})
        save(uow, loaded, now, principal.role)
        uow.commit()
    return row


def _check_quota(deps: Deps, uow: UnitOfWork, principal: Principal, buyer_id: str, case_id: str,
                 size: int) -> None:
    quota = deps.evidence_quota
    files, used = uow.evidence.evidence_usage(principal.shop_id, case_id=case_id)
    if files + 1 > quota.case_files or used + size > quota.case_bytes:
        raise QuotaExceeded(f"this case holds at most {quota.case_files} files and "
                            f"{_mb(quota.case_bytes)} of evidence ({files} files, {_mb(used)} now)")
    if principal.role is not Role.buyer:
        return
    files, used = uow.evidence.evidence_usage(principal.shop_id, buyer_id=buyer_id,
                                       uploaded_by=str(principal.actor))
    if files + 1 > quota.buyer_files or used + size > quota.buyer_bytes:
        raise QuotaExceeded(f"a buyer uploads at most {quota.buyer_files} files and "
                            f"{_mb(quota.buyer_bytes)} of evidence to this shop "
                            f"({files} files, {_mb(used)} now)")


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def list_evidence(deps: Deps, principal: Principal, case_id: str) -> list[dict[str, Any]]:
    with deps.uow() as uow:
        load(deps, uow, principal, case_id)
        return uow.evidence.evidence(principal.shop_id, case_id)


def _blobs(deps: Deps, blobs: BlobStore | None) -> BlobStore:
    found = blobs or deps.blobs
    if found is None:
        raise RuntimeError("no evidence store configured")
    return found


def open_evidence(deps: Deps, principal: Principal, case_id: str, evidence_id: str, *,
                  blobs: BlobStore | None = None) -> EvidenceFile:
    """The file, with whether it may be shown inline: checked again as it is served, so a
    file stored before the checks existed (or by another version) is never shown inline
    unless it passes them now."""
    with deps.uow() as uow:
        load(deps, uow, principal, case_id)
        rows = [r for r in uow.evidence.evidence(principal.shop_id, case_id) if r["id"] == evidence_id]
    if not rows:
        raise NotFound(f"no evidence {evidence_id}", code="evidence_not_found")
    data, content_type = _blobs(deps, blobs).get(rows[0]["sha256"]), rows[0]["content_type"]
    return EvidenceFile(data, content_type, _inline(deps.checks, data, content_type))


def _inline(checks: ContentChecker | None, data: bytes, content_type: str) -> bool:
    return checks is not None and checks.inline_safe(data, content_type)


def evidence_headers(found: EvidenceFile, name: str) -> dict[str, str]:
    """How a stored file goes back to a browser, the same from the API and the desk.

    The type is the one sniffed at upload; `nosniff` and a sandboxing CSP keep a browser
    from reinterpreting or running it. Only an image that decodes within bounds is shown
    inline; PDFs, videos and anything else are downloads. The name is ours (the evidence
    id), never the uploaded one."""
    extension = found.content_type.rsplit("/", 1)[-1].replace("quicktime", "mov")
    disposition = "inline" if found.inline else "attachment"
    return {"X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Content-Disposition": f'{disposition}; filename="{name}.{extension}"',
            "Cache-Control": "private, max-age=3600"}
