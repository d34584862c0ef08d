"""Real evidence files for the upload tests, built here: images by Pillow, PDFs by hand.

The upload path decodes images and parses PDFs (adapters/evidence_checks.py), so a test
file must be a real one — or a real attack: a PDF with scripts, a decompression bomb, a
truncated JPEG.
"""

from __future__ import annotations

import io

from PIL import Image

MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64


def image(fmt: str = "PNG", size: tuple[int, int] = (8, 8), mode: str = "RGB",
          color: object = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, fmt)  # type: ignore[arg-type]
    return buf.getvalue()


PNG = image("PNG")
JPEG = image("JPEG", (64, 48))


def bomb_png(side: int = 20_000) -> bytes:
    """400 million pixels of one bit: about 50 kB on disk, 1.2 GB once decoded to RGB."""
    return image("PNG", (side, side), mode="1", color=0)


def truncated_jpeg() -> bytes:
    whole = image("JPEG", (640, 480), color=(10, 120, 200))
    return whole[: len(whole) // 2]


def build_pdf(*extra: bytes, catalog: bytes = b"", page: bytes = b"") -> bytes:
    """A well-formed one-page PDF; `extra` objects are numbered 4, 5, … and the catalog's
    and page's dictionaries get `catalog` and `page` added (to refer to them)."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R " + catalog + b" >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] " + page + b" >>", *extra]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


PDF = build_pdf()
JS = b"<< /S /JavaScript /JS (app.alert\\(document.cookie\\)) >>"
SCRIPTED_PDFS = {
    "names_javascript": build_pdf(b"<< /JavaScript 5 0 R >>", b"<< /Names [(x) 6 0 R] >>", JS,
                                  catalog=b"/Names 4 0 R"),
    "open_action_js": build_pdf(JS, catalog=b"/OpenAction 4 0 R"),
    "launch": build_pdf(b"<< /S /Launch /F (cmd.exe) >>", catalog=b"/OpenAction 4 0 R"),
    "page_aa": build_pdf(JS, page=b"/AA << /O 4 0 R >>"),
    "annotation_js": build_pdf(b"<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A " + JS + b" >>",
                               page=b"/Annots [4 0 R]"),
}
