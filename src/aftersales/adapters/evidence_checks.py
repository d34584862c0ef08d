"""Evidence content checks beyond the first bytes: PDFs parsed for scripts, images decoded.

Sniffing (adapters/blobs.py) tells what a file claims to be; this module checks that it is
safe to hand to a viewer. A PDF is parsed with pypdf and every object reachable from its
trailer is walked: any script, launch, form-submission or automatic action refuses it
(`unsafe_pdf`), and one that cannot be parsed cannot be checked (`invalid_pdf`). An image
is opened, verified and fully decoded by Pillow under a pixel budget (frames included),
so a truncated file or a decompression bomb is refused (`invalid_image`) before anyone's
browser renders it. Videos keep the container check sniffing already made. Pillow and pypdf are imported on
first use: every CLI command imports the composition root, few of them check a file.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

# Pillow decodes these; HEIC it cannot, so a HEIC file is kept but never served inline.
DECODABLE_IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
DEFAULT_MAX_PIXELS = 64_000_000  # a 48 MP phone photo fits; a bomb of 10⁹ pixels does not
PDF_OBJECT_BUDGET = 200_000  # past this many objects a PDF is refused, not walked forever

# Keys that are never benign in a buyer's PDF: scripts, automatic actions, XFA forms
# (which carry scripts), rich media (Flash/3D players).
UNSAFE_KEYS = frozenset({"/JS", "/JavaScript", "/AA", "/XFA", "/RichMedia", "/RichMediaSettings"})
# Action types (/S) that run something, open another file or send data away.
UNSAFE_ACTIONS = frozenset({"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/Rendition",
                            "/RichMediaExecute", "/GoToR", "/GoToE", "/Sound", "/Movie"})


class ContentChecks:
    """The `ContentChecker` port (service/ports.py): a refusal code, or None when safe."""

    def __init__(self, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self.max_pixels = max_pixels

    def refusal(self, data: bytes, content_type: str) -> str | None:
        if content_type == "application/pdf":
            return pdf_refusal(data)
        if content_type in DECODABLE_IMAGES:
            return None if image_ok(data, self.max_pixels) else "invalid_image"
        return None

    def inline_safe(self, data: bytes, content_type: str) -> bool:
        return content_type in DECODABLE_IMAGES and image_ok(data, self.max_pixels)


def image_ok(data: bytes, max_pixels: int) -> bool:
    """True when Pillow decodes every pixel of it within the budget, with no error."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:  # reads the header only
                width, height = probe.size
                frames = int(getattr(probe, "n_frames", 1))
                if width * height * max(frames, 1) > max_pixels:
                    return False
                probe.verify()  # structure and checksums
            with Image.open(io.BytesIO(data)) as img:  # verify() leaves it unusable
                for frame in range(frames):
                    img.seek(frame)
                    img.load()  # a truncated file fails here
    except Exception:  # Pillow raises many kinds (OSError, SyntaxError, bomb errors, …)
        return False
    return True


def pdf_refusal(data: bytes) -> str | None:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            return "invalid_pdf"  # a password-protected file cannot be checked
        return "unsafe_pdf" if _has_active_content(reader.trailer) else None
    except Exception:  # malformed input makes pypdf raise from deep inside its parser (or _TooBig)
        return "invalid_pdf"


class _TooBig(Exception):
    pass


def _has_active_content(root: Any) -> bool:
    """Walk every object reachable from the trailer (iteratively, each object once)."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    seen: set[tuple[int, int]] = set()
    stack: list[Any] = [root]
    visited = 0
    while stack:
        node = stack.pop()
        if isinstance(node, IndirectObject):
            ref = (node.idnum, node.generation)
            if ref in seen:
                continue
            seen.add(ref)
            node = node.get_object()
        visited += 1
        if visited > PDF_OBJECT_BUDGET:
            raise _TooBig
        if isinstance(node, DictionaryObject):
            if _unsafe_dict(node):
                return True
            stack.extend(node.raw_get(k) for k in node)
        elif isinstance(node, ArrayObject):
            stack.extend(node)
    return False


def _unsafe_dict(node: Any) -> bool:
    from pypdf.generic import NameObject

    if any(str(key) in UNSAFE_KEYS for key in node):
        return True
    action = node.get("/S")
    return isinstance(action, NameObject) and str(action) in UNSAFE_ACTIONS
