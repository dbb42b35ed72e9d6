"""Verification of outputs: each category's files are opened and read back before delivery.

``verify_output`` never raises for a bad file: a corrupt or incomplete output is a failed check
in the report, and a report with no checks does not pass.
"""

from __future__ import annotations

from pathlib import Path

from outputs.verification import criteria, media, office, web
from outputs.verification.report import Check, VerificationReport


def _primary(root: Path, expectations: dict, suffix: str) -> Path | None:
    name = expectations.get("primary")
    if name:
        return root / name
    found = sorted(root.glob(f"*{suffix}"))
    return found[0] if found else None


def verify_output(*, category: str, path_or_dir: Path, expectations: dict) -> VerificationReport:
    report = VerificationReport()
    path = Path(path_or_dir)
    root = path if path.is_dir() else path.parent
    if not path.exists():
        report.add("output exists", False, f"nothing at {path.name}")
        return report
    if category == "website":
        web.check_site(root, expectations, report)
    elif category == "image":
        media.check_images(root, expectations, report)
    elif category == "video":
        target = path if path.is_file() else _primary(root, expectations, ".mp4")
        if report.add("video file exists", bool(target and target.is_file()), ""):
            media.check_video(target, expectations, report)
    elif category == "audio":
        media.check_audio(root, expectations, report)
    elif category == "pdf":
        target = path if path.is_file() else _primary(root, expectations, ".pdf")
        if report.add("PDF file exists", bool(target and target.is_file()), ""):
            office.check_pdf(target, expectations, report)
    elif category == "document":
        for docx in sorted(root.glob("*.docx")):
            office.check_docx(docx, expectations, report)
        for md in sorted(root.glob("*.md")):
            office.check_markdown(md, expectations, report)
    elif category == "presentation":
        target = path if path.is_file() else _primary(root, expectations, ".pptx")
        if report.add("PPTX file exists", bool(target and target.is_file()), ""):
            office.check_pptx(target, expectations, report)
    elif category == "spreadsheet":
        target = path if path.is_file() and path.suffix == ".xlsx" else _primary(root, expectations, ".xlsx")
        if report.add("XLSX file exists", bool(target and target.is_file()), ""):
            office.check_xlsx(target, expectations, report)
        if expectations.get("csv"):
            office.check_csv(root / expectations["csv"]["file"], expectations["csv"], report)
    else:
        report.add("category is known", False, f"no verifier for “{category}”")
    if expectations.get("imported_pictures"):
        criteria.check_imported_pictures(category=category, root=root, expectations=expectations, report=report)
    if expectations.get("brief"):
        try:
            criteria.check_brief(category=category, root=root, expectations=expectations, report=report)
        except ValueError as exc:  # a brief that no longer validates is a failure, not a pass
            report.add("Brief: the acceptance criteria can be read", False, str(exc)[:300])
    return report


__all__ = ["Check", "VerificationReport", "verify_output"]
