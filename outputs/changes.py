"""What a version changed, and what an imported asset says.

``text_of`` reads the words back out of a delivered file with the same libraries verification
uses (the site's HTML, a PDF's pages, a document's paragraphs, a deck's shapes, a sheet's cells);
pictures and media have no text, so their change is said as "a new picture" plus the criteria
whose result moved. ``version_changes`` is stored on the new version at delivery, so the card
shows a diff computed from the real bytes of both versions. ``copy_from_asset`` turns an asset
brought into a new request into copy the generators write from.
"""

from __future__ import annotations

import difflib
import tempfile
from html.parser import HTMLParser
from pathlib import Path

MAX_DIFF_LINES = 80
_BLOCKS = {"h1", "h2", "h3", "h4", "p", "li", "td", "th", "title", "button", "label", "a", "blockquote", "figcaption"}
_SKIP = {"script", "style", "noscript", "svg", "head"}


class _Blocks(HTMLParser):
    """The visible text of an HTML page, one block (heading, paragraph, item) per entry."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, str]] = []
        self._stack: list[str] = []
        self._skip = 0
        self._buf: list[str] = []
        self._tag = ""

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP:
            self._skip += 1
        elif tag in _BLOCKS and not self._skip:
            self._flush()
            self._tag = tag

    def handle_endtag(self, tag):
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS and not self._skip:
            self._flush()

    def handle_data(self, data):
        if not self._skip:
            self._buf.append(data)

    def _flush(self):
        text = " ".join("".join(self._buf).split())
        if text:
            self.blocks.append((self._tag or "p", text))
        self._buf, self._tag = [], ""

    def close(self):
        super().close()
        self._flush()


def html_blocks(html: str) -> list[tuple[str, str]]:
    parser = _Blocks()
    parser.feed(html)
    parser.close()
    return parser.blocks


def text_of(category: str, root: Path, primary: str) -> str | None:
    """The text of a delivered output, or None for pictures, video and audio (no text to diff)."""
    path = Path(root) / primary
    if not path.is_file():
        return None
    suffix = path.suffix.lower()
    if category == "website" or suffix in {".html", ".htm"}:
        return "\n".join(text for _tag, text in html_blocks(path.read_text(errors="replace")))
    if suffix == ".pdf":
        from pypdf import PdfReader

        lines = []
        for page in PdfReader(str(path)).pages:
            lines += [" ".join(line.split()) for line in (page.extract_text() or "").splitlines()]
        return "\n".join(line for line in lines if line)
    if suffix == ".docx":
        import docx

        doc = docx.Document(str(path))
        lines = [p.text.strip() for p in doc.paragraphs if p.text.strip()]
        for table in doc.tables:
            lines += [" | ".join(c.text.strip() for c in row.cells) for row in table.rows]
        return "\n".join(lines)
    if suffix == ".pptx":
        from pptx import Presentation

        lines = []
        for n, slide in enumerate(Presentation(str(path)).slides, 1):
            for shape in slide.shapes:
                if shape.has_text_frame and shape.text_frame.text.strip():
                    lines += [f"slide {n}: {t.strip()}" for t in shape.text_frame.text.splitlines() if t.strip()]
        return "\n".join(lines)
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        lines = []
        for ws in load_workbook(str(path)).worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    if cell.value is not None and str(cell.value).strip():
                        lines.append(f"{ws.title}!{cell.coordinate}: {cell.value}")
        return "\n".join(lines)
    if suffix in {".md", ".txt", ".csv", ".json"}:
        return path.read_text(errors="replace")
    return None


def _criteria(checks: list[dict]) -> dict[str, dict]:
    return {c["criterion"]: c for c in checks if c.get("criterion")}


def version_changes(*, parent, category: str, root: Path, primary: str, files: list[dict], checks: list[dict]) -> dict:
    """What the new version (its files in ``root``) changed from ``parent`` (the previous version).

    Promises: the diff is of the text read back from both versions' real files; ``identical`` is
    true only when every file has the same sha256 as the parent's.
    """
    from outputs.services import asset_materialise

    old_files = {f["path"]: f["sha256"] for f in parent.files}
    new_files = {f["path"]: f["sha256"] for f in files}
    out: dict = {
        "from_version": parent.version,
        "from_id": str(parent.id),
        "identical": old_files == new_files,
        "files_changed": sorted(p for p in new_files if old_files.get(p) != new_files[p]),
        "format": [parent.category, category] if parent.category != category else [],
    }
    new_text = text_of(category, root, primary)
    old_text = None
    with tempfile.TemporaryDirectory(prefix="command-v") as tmp:
        try:
            local = asset_materialise(asset=parent, dest_dir=Path(tmp))
            old_text = text_of(parent.category, local.parent, local.name)
        except Exception as exc:  # a parent whose bytes are gone: say so rather than diff nothing
            out["parent_unreadable"] = str(exc)[:200]
    if new_text is not None and old_text is not None:
        diff = list(difflib.unified_diff(old_text.splitlines(), new_text.splitlines(), lineterm="", n=0))[2:]
        lines = [line for line in diff if not line.startswith("@@")]
        out.update(
            kind="text",
            added=sum(1 for line in lines if line.startswith("+")),
            removed=sum(1 for line in lines if line.startswith("-")),
            diff=lines[:MAX_DIFF_LINES],
            diff_truncated=len(lines) > MAX_DIFF_LINES,
        )
    else:
        out["kind"] = "picture" if category == "image" else "media"
    before, after = _criteria(parent.verification.get("checks", [])), _criteria(checks)
    moved = []
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        if b is None or a is None or b.get("status") != a.get("status") or b.get("name") != a.get("name"):
            moved.append(
                {
                    "before": f"{b['name']} ({b.get('status', '')})" if b else "—",
                    "after": f"{a['name']} ({a.get('status', '')})" if a else "—",
                }
            )
    out["criteria"] = moved
    return out


def copy_from_asset(asset, dest_dir: Path) -> dict | None:
    """Copy for a generator, taken from an asset brought into a new request: its headline, lede and
    sections with their paragraphs and items, in the asset's own words. None when it has no text."""
    from outputs.services import asset_materialise

    local = asset_materialise(asset=asset, dest_dir=Path(dest_dir))
    if asset.category == "website" or local.suffix.lower() in {".html", ".htm"}:
        blocks = html_blocks(local.read_text(errors="replace"))
    elif local.suffix.lower() == ".xlsx":
        blocks = _sheet_blocks(local, asset.title)
    else:
        text = text_of(asset.category, local.parent, local.name)
        if not text:
            return None
        lines = text.splitlines()
        blocks = [("h1", lines[0])] + [("p", line) for line in lines[1:]]
    blocks = [(tag, text) for tag, text in blocks if tag not in {"title", "button", "label", "a"}]
    if not blocks:
        return None
    headline = next((t for tag, t in blocks if tag == "h1"), blocks[0][1])
    copy: dict = {"headline": headline, "paragraphs": [], "sections": []}
    section = None
    for tag, text in blocks:
        if text == headline and tag == "h1":
            continue
        if tag in {"h2", "h3"}:
            section = {"heading": text, "paragraphs": [], "bullets": []}
            copy["sections"].append(section)
        elif section is None:
            copy["paragraphs"].append(text)
        elif tag in {"li", "td", "th"}:
            section["bullets"].append(text)
        else:
            section["paragraphs"].append(text)
    copy["sections"] = [s for s in copy["sections"] if s["paragraphs"] or s["bullets"]][:8]
    return copy


def _sheet_blocks(path: Path, title: str) -> list[tuple[str, str]]:
    """A workbook as blocks: its title, then per sheet a heading and one item per row (values
    computed where the file stores them, else the formula as written)."""
    from openpyxl import load_workbook

    blocks = [("h1", title)]
    for ws in load_workbook(str(path), data_only=True).worksheets:
        rows = []
        for row in ws.iter_rows(values_only=True):
            values = [str(v) for v in row if v is not None and str(v).strip()]
            if values:
                rows.append(" · ".join(values))
        if rows:
            blocks.append(("h2", ws.title))
            blocks += [("li", r) for r in rows[:40]]
    return blocks
