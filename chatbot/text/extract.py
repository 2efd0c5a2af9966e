"""Text out of formatted documents: PDF (pypdf), Word .docx (python-docx), HTML (stdlib parser).

Each extractor returns the plain text, a title hint (the document's own title, or "") and its
places: where each PDF page starts, or each heading (Word heading styles, HTML h1-h6), as offsets
of that text at the start of a line. The text then goes through the same normalization as plain
files, which moves the places with it (`loaders.normalize_placed`), so citation offsets and pages
refer to the extracted text. Scripts, styles and markup never reach the text: HTML is parsed, not stripped
with patterns, and only character data outside <script>/<style>/<template> is kept.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

from chatbot.errors import LoadError
from chatbot.text.encoding import decode
from chatbot.types import Place

log = logging.getLogger(__name__)

Extractor = Callable[[bytes, str], tuple[str, str, list[Place]]]
_HEADING_STYLE = re.compile(r"(?i)heading\s*\d")  # Word's built-in "Heading 1".."Heading 9"


def _joined(blocks: list[tuple[str, Place | None]]) -> tuple[str, list[Place]]:
    """Blocks joined by a blank line; a block's place starts where the block does."""
    parts: list[str] = []
    places: list[Place] = []
    pos = 0
    for text, place in blocks:
        if parts:
            parts.append("\n\n")
            pos += 2
        if place is not None:
            places.append(Place(pos, place.page, place.section))
        parts.append(text)
        pos += len(text)
    return "".join(parts), places


def pdf_text(raw: bytes, name: str) -> tuple[str, str, list[Place]]:
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
    text, places = _joined([(p.strip(), Place(0, page=i)) for i, p in enumerate(pages, 1)])
    if not text.strip():
        raise LoadError(name, "the PDF has no text layer (a scan?); run OCR on it or export it as text")
    return text, title.strip(), places


def docx_text(raw: bytes, name: str) -> tuple[str, str, list[Place]]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(raw))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise LoadError(name, f"cannot read this Word file ({exc}); save it as .docx again") from exc
    except Exception as exc:  # noqa: BLE001 - zipfile and lxml raise their own errors for broken files
        raise LoadError(name, f"cannot read this Word file ({type(exc).__name__}); save it as .docx again") from exc
    try:  # a damaged package opens but breaks on the way in (no body, no core properties part)
        headings = {s.style_id for s in document.styles if s.name and _HEADING_STYLE.match(s.name)}
        blocks = _docx_blocks(document.element.body, headings)
        title = document.core_properties.title or ""
    except Exception as exc:  # noqa: BLE001 - python-docx raises AttributeError and others on broken parts
        raise LoadError(name, f"cannot read this Word file ({type(exc).__name__}); save it as .docx again") from exc
    text, places = _joined([(b, place) for b, place in blocks if b.strip()])
    return text, title.strip(), places


def _docx_blocks(body: Any, headings: set[str]) -> list[tuple[str, Place | None]]:
    """Paragraphs and table rows; a paragraph in a heading style starts a section."""
    blocks: list[tuple[str, Place | None]] = []
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            text = "".join(t.text or "" for t in child.iter() if t.tag.endswith("}t"))
            style = getattr(child, "style", None)  # the paragraph's style id (python-docx's CT_P)
            heading = " ".join(text.split())[:200] if style in headings else ""
            blocks.append((text, Place(0, section=heading) if heading else None))
        elif tag == "tbl":
            for row in child.iter():
                if row.tag.endswith("}tr"):
                    cells = ["".join(t.text or "" for t in cell.iter() if t.tag.endswith("}t"))
                             for cell in row if cell.tag.endswith("}tc")]
                    blocks.append((" | ".join(c.strip() for c in cells), None))
    return blocks


_BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd div dl dt figcaption figure footer form h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section table td th tr ul".split()
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript", "head", "svg", "iframe", "object"})


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._skip = 0
        self._in_title = False
        # headings: (index in parts where the heading starts a line, its text as collected)
        self.headings: list[tuple[int, list[str]]] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HEADINGS and not self._skip:
            self.parts.append("\n\n")
            self._heading = []
            self.headings.append((len(self.parts), self._heading))
        elif tag == "title":
            self._in_title = True
        elif tag == "body":
            self._skip, self._in_title = 0, False  # an unclosed <head> or <title> ends here
        elif tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n" if tag not in ("br", "td", "th") else ("\n" if tag == "br" else " "))

    def handle_endtag(self, tag: str) -> None:
        if tag in _HEADINGS:
            self._heading = None
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
            if self._heading is not None:
                self._heading.append(data)


def html_text(raw: bytes, name: str) -> tuple[str, str, list[Place]]:
    """Text of the body, blocks on their own lines; each h1-h6 starts a section. Spaces are
    collapsed line by line, piece by piece between headings (a heading starts a line), which
    gives the text whole would and says where each heading lands."""
    parser = _TextParser()
    parser.feed(decode(raw, name))
    parser.close()
    cuts = [0, *(i for i, _ in parser.headings), len(parser.parts)]
    labels = [None, *(" ".join("".join(words).split())[:200] for _, words in parser.headings)]
    text, places = "", []
    for (a, b), label in zip(zip(cuts, cuts[1:]), labels):
        if label:
            places.append(Place(len(text), section=label))
        text += "\n".join(" ".join(line.split()) for line in "".join(parser.parts[a:b]).split("\n"))
    return text, " ".join("".join(parser.title).split()), places


EXTRACTORS: dict[str, Extractor] = {
    ".pdf": pdf_text,
    ".docx": docx_text,
    ".html": html_text,
    ".htm": html_text,
}
