"""Verification catches broken outputs: truncated, garbled, incomplete or off-plan files fail."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from outputs.services import output_verify, output_verify_generated
from outputs.tests.conftest import path_of
from outputs.verification import VerificationReport


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    start = len(data) // 3
    for i in range(start, min(len(data), start + 4096)):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def failed_names(report: VerificationReport) -> list[str]:
    assert not report.passed
    return [c.name for c in report.checks if not c.passed]


def verify(out):
    return output_verify(
        category=out.category, path_or_dir=out.root_path, expectations={**out.expectations, "primary": out.primary}
    )


@pytest.mark.parametrize(
    ("category", "suffix", "damage"),
    [
        ("image", "social-card.png", truncate),
        ("image", "logo.png", garble),
        ("video", ".mp4", truncate),
        ("audio", ".wav", truncate),
        ("audio", ".mp3", garble),
        ("pdf", ".pdf", truncate),
        ("pdf", ".pdf", garble),
        ("document", ".docx", truncate),
        ("presentation", ".pptx", truncate),
        ("spreadsheet", ".xlsx", garble),
        ("website", "index.html", truncate),
    ],
)
def test_a_damaged_file_fails_its_check(generated, copy_of, category, suffix, damage):
    out = copy_of(generated[category])
    if not any(f.path.endswith(suffix) for f in out.files):
        pytest.skip(f"no {suffix} in this installation's output")
    assert verify(out).passed  # the undamaged copy passes: the test below can fail
    target = path_of(out, suffix)
    damage(target)
    failures = failed_names(verify(out))
    assert any(
        target.name in n
        or out.category in n.lower()
        or "PDF" in n
        or "DOCX" in n
        or "PPTX" in n
        or "XLSX" in n
        or "video" in n
        for n in failures
    ), failures


def test_a_website_with_a_broken_link_fails(generated, copy_of):
    out = copy_of(generated["website"])
    (out.root_path / "assets" / "hero.svg").unlink()
    assert failed_names(verify(out)) == ["index.html local links resolve"]
    report = verify(out)
    assert "assets/hero.svg" in next(c.detail for c in report.checks if not c.passed)


def test_a_website_link_escaping_the_folder_fails(generated, copy_of):
    out = copy_of(generated["website"])
    (out.root_path.parent / "outside.css").write_text("body{}")
    page = out.root_path / "contact.html"
    page.write_text(page.read_text().replace('href="styles.css"', 'href="../outside.css"'))
    assert "contact.html local links resolve" in failed_names(verify(out))


def test_a_spreadsheet_whose_formula_became_a_number_fails(generated, copy_of):
    out = copy_of(generated["spreadsheet"])
    wb = load_workbook(out.primary_path)
    wb["Pricing"]["D5"] = 490
    wb.save(out.primary_path)
    assert failed_names(verify(out)) == ["sheet “Pricing” formulas"]


def test_a_pdf_with_other_pages_than_planned_fails(generated):
    out = generated["pdf"]
    report = output_verify(category="pdf", path_or_dir=out.primary_path, expectations={**out.expectations, "pages": 3})
    assert failed_names(report) == ["PDF opens with the expected pages"]


def test_a_deck_missing_a_planned_slide_fails(generated):
    out = generated["presentation"]
    expectations = {"slide_titles": [*out.expectations["slide_titles"], "Appendix"]}
    assert failed_names(output_verify(category="presentation", path_or_dir=out.primary_path, expectations=expectations))


def test_an_image_at_the_wrong_size_fails(generated):
    out = generated["image"]
    report = output_verify(
        category="image", path_or_dir=out.root_path, expectations={"images": {"social-card.png": [1200, 630]}}
    )
    assert "expected 1200×630" in report.checks[0].detail and not report.passed


def test_bytes_changed_after_generation_fail_even_if_still_valid(generated, copy_of):
    out = copy_of(generated["document"])
    md = path_of(out, ".md")
    md.write_text(md.read_text() + "\nAn extra line.\n")
    assert failed_names(output_verify_generated(generated=out)) == [f"{md.name} unchanged since generation"]


def test_an_empty_report_and_a_missing_output_do_not_pass(tmp_path):
    assert not VerificationReport().passed
    assert not output_verify(category="pdf", path_or_dir=tmp_path / "nothing.pdf", expectations={}).passed
    assert not output_verify(category="hologram", path_or_dir=tmp_path, expectations={}).passed
