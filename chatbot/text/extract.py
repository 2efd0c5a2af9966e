"""Text out of formatted documents: PDF (pypdf), Word .docx (python-docx), HTML (stdlib parser).

Each extractor returns the plain text and a title hint (the document's own title, or ""). The
text then goes through the same normalization as plain files, so citation offsets refer to the
extracted text. Scripts, styles and markup never reach the text: HTML is parsed, not stripped
with patterns, and only character data outside <script>/<style>/<template> is kept.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

from chatbot.errors import LoadError
from chatbot.text.encoding import decode

log = logging.getLogger(__name__)

Extractor = Callable[[bytes, str], tuple[str, str]]


def pdf_text(raw: bytes, name: str) -> tuple[str, str]:
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # it warns about every odd object
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(name, "encrypted PDF; save an unprotected copy and upload that")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta = reader.metadata
        title = str(meta.get("/Title") or "") if meta is not None else ""
    except LoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - damaged files make pypdf raise AttributeError,
        # LimitReachedError and more besides PdfReadError; one bad file must not stop an ingest
        detail = str(exc) or type(exc).__name__
        raise LoadError(name, f"cannot read this PDF ({detail}); re-save it as PDF or export it as text") from exc
    text = "\n\n".join(p.strip() for p in pages)
    if not text.strip():
        raise LoadError(name, "the PDF has no text layer (a scan?); run OCR on it or export it as text")
    return text, title.strip()


def docx_text(raw: bytes, name: str) -> tuple[str, str]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(raw))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise LoadError(name, f"cannot read this Word file ({exc}); save it as .docx again") from exc
    except Exception as exc:  # noqa: BLE001 - zipfile and lxml raise their own errors for broken files
        raise LoadError(name, f"cannot read this Word file ({type(exc).__name__}); save it as .docx again") from exc
    try:  # a damaged package opens but breaks on the way in (no body, no core properties part)
        blocks = _docx_blocks(document.element.body)
        title = document.core_properties.title or ""
    except Exception as exc:  # noqa: BLE001 - python-docx raises AttributeError and others on broken parts
        raise LoadError(name, f"cannot read this Word file ({type(exc).__name__}); save it as .docx again") from exc
    return "\n\n".join(b for b in blocks if b.strip()), title.strip()


def _docx_blocks(body: Any) -> list[str]:
    blocks: list[str] = []
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            blocks.append("".join(t.text or "" for t in child.iter() if t.tag.endswith("}t")))
        elif tag == "tbl":
            for row in child.iter():
                if row.tag.endswith("}tr"):
                    cells = ["".join(t.text or "" for t in cell.iter() if t.tag.endswith("}t"))
                             for cell in row if cell.tag.endswith("}tc")]
                    blocks.append(" | ".join(c.strip() for c in cells))
    return blocks


_BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd div dl dt figcaption figure footer form h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section table td th tr ul".split()
)
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript", "head", "svg", "iframe", "object"})


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag == "body":
            self._skip, self._in_title = 0, False  # an unclosed <head> or <title> ends here
        elif tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n" if tag not in ("br", "td", "th") else ("\n" if tag == "br" else " "))

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._skip:
            self.parts.append(data)


def html_text(raw: bytes, name: str) -> tuple[str, str]:

    parser = _TextParser()
    parser.feed(decode(raw, name))
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    return "\n".join(lines), " ".join("".join(parser.title).split())


EXTRACTORS: dict[str, Extractor] = {
    ".pdf": pdf_text,
    ".docx": docx_text,
    ".html": html_text,
    ".htm": html_text,
}
