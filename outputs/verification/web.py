"""Website checks: every page parses, has a title, and every local link and asset resolves."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from outputs.verification.report import VerificationReport


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.refs: list[str] = []
        self.title = ""
        self._in_title = False
        self.text: list[str] = []
        self.ids: set[str] = set()
        self.open_tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if a.get(key):
                self.refs.append(a[key])
        if tag == "title":
            self._in_title = True

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        self.text.append(data)


def _is_local(ref: str) -> bool:
    parts = urlsplit(ref)
    return not parts.scheme and not parts.netloc and not ref.startswith(("//", "data:", "mailto:", "tel:"))


def check_site(root: Path, expectations: dict, report: VerificationReport) -> None:
    root = root.resolve()
    pages = expectations.get("pages") or ["index.html"]
    parsed: dict[str, _Collector] = {}
    for page in pages:
        path = root / page
        if not report.add(f"{page} exists", path.is_file(), "" if path.is_file() else "the page is missing"):
            continue
        c = _Collector()

        def parse(c=c, path=path, page=page):
            raw = path.read_bytes()
            text = raw.decode("utf-8")  # a garbled file fails here rather than rendering mojibake
            if "<html" not in text.lower() or "</html>" not in text.lower():
                raise ValueError("not a complete HTML document")
            c.feed(text)
            c.close()
            if not c.title.strip():
                raise ValueError("the page has no <title>")
            parsed[page] = c
            return f"title “{c.title.strip()[:60]}”, {len(c.refs)} links and assets"

        report.attempt(f"{page} parses", parse)
    for page, c in parsed.items():
        missing = []
        for ref in c.refs:
            if not _is_local(ref):
                continue
            parts = urlsplit(ref)
            if not parts.path:  # a same-page anchor
                if parts.fragment and parts.fragment not in c.ids:
                    missing.append(ref)
                continue
            target = (root / page).parent / unquote(parts.path)
            try:
                resolved = target.resolve()
                inside = resolved.is_relative_to(root)
            except OSError:
                inside = False
            if not inside or not resolved.is_file():
                missing.append(ref)
            elif parts.fragment and resolved.relative_to(root).as_posix() in parsed:
                # A link to an anchor on another checked page must land on an element with that id.
                target_ids = parsed[resolved.relative_to(root).as_posix()].ids
                if parts.fragment not in target_ids:
                    missing.append(ref)
        local = [r for r in c.refs if _is_local(r)]
        report.add(
            f"{page} local links resolve",
            not missing,
            f"{len(local)} checked" if not missing else "missing: " + ", ".join(sorted(set(missing))[:8]),
        )
    for page, texts in (expectations.get("texts") or {}).items():
        if page in parsed:
            body = " ".join(" ".join(parsed[page].text).split())
            absent = [t for t in texts if " ".join(t.split()) not in body]
            report.add(
                f"{page} says what was planned",
                not absent,
                "headline and brand present" if not absent else "missing: " + "; ".join(absent),
            )
