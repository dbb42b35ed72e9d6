"""LibreOffice headless, the one place Command runs it: convert an office file to another format.

Each conversion gets its own throw-away profile (``-env:UserInstallation``), so conversions never
share or lock a user profile, and a fixed argument list (no shell). Used to recalculate a
spreadsheet's formulas (verification) and to picture a document's first page (previews).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

TIMEOUT_SECONDS = 120


def soffice_path() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert(path: Path, *, to: str, workdir: Path) -> Path | str:
    """``path`` converted to format ``to`` (e.g. "pdf", "xlsx") inside ``workdir``, or a sentence
    saying why it could not be (LibreOffice missing, timed out, failed)."""
    soffice = soffice_path()
    if not soffice:
        return "LibreOffice is not installed"
    profile = (Path(workdir) / "profile").resolve().as_uri()
    out = Path(workdir) / "out"
    try:
        proc = subprocess.run(  # noqa: S603 — a fixed program and arguments, no shell
            [soffice, f"-env:UserInstallation={profile}", "--headless", "--norestore", "--convert-to", to,
             "--outdir", str(out), str(path)],
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"LibreOffice took longer than {TIMEOUT_SECONDS} s"
    converted = out / f"{Path(path).stem}.{to}"
    if proc.returncode != 0 or not converted.is_file():
        return f"LibreOffice could not convert {Path(path).name} (exit {proc.returncode})"
    return converted
