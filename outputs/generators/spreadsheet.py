"""Spreadsheet generator: an XLSX pricing model with live formulas (openpyxl) plus a CSV export."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

from outputs.generators.base import GeneratedOutput, GenerationRequest, describe_files
from outputs.generators.brand import brand_from
from outputs.generators.copywriting import copy_for

HEADERS = ["Plan", "Seats", "Price per seat (monthly)", "Monthly total", "Annual total", "Discount", "Net annual"]
CURRENCY = '"$"#,##0.00'


def generate(request: GenerationRequest, dest: Path) -> GeneratedOutput:
    brand = brand_from(request)
    copy = copy_for(request, brand)
    title = request.deliverable.title
    dest.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    ws = wb.active
    ws.title = "Pricing"
    head_fill = PatternFill("solid", fgColor=brand.primary.lstrip("#").upper())
    thin = Side(style="thin", color="D1D5DB")

    ws["A1"] = f"{brand.name} — {title}"
    ws["A1"].font = Font(bold=True, size=14, color=brand.dark.lstrip("#").upper())
    ws["A2"] = "Edit seats, prices or discounts (blue cells); totals recalculate."
    ws["A2"].font = Font(italic=True, color="6B7280")
    header_row = 4
    for col, label in enumerate(HEADERS, start=1):
        c = ws.cell(row=header_row, column=col, value=label)
        c.font = Font(bold=True, color="FFFFFF")
        c.fill = head_fill
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    discounts = [0.0, 0.1, 0.2]
    formulas: dict[str, str] = {}
    first = header_row + 1
    csv_rows = [HEADERS]
    for i, tier in enumerate(copy.tiers):
        r = first + i
        disc = discounts[i] if i < len(discounts) else 0.2
        values = {
            "A": tier.name,
            "B": tier.seats,
            "C": tier.price,
            "D": f"=B{r}*C{r}",
            "E": f"=D{r}*12",
            "F": disc,
            "G": f"=E{r}*(1-F{r})",
        }
        for col, v in values.items():
            cell = ws[f"{col}{r}"]
            cell.value = v
            cell.border = Border(bottom=thin)
            if col in "BCF":
                cell.font = Font(color="1D4ED8")  # inputs are blue, a modelling convention
        for col in "CDEG":
            ws[f"{col}{r}"].number_format = CURRENCY
        ws[f"F{r}"].number_format = "0%"
        ws[f"B{r}"].number_format = "#,##0"
        formulas.update({f"D{r}": values["D"], f"E{r}": values["E"], f"G{r}": values["G"]})
        annual = tier.seats * tier.price * 12
        csv_rows.append(
            [
                tier.name,
                tier.seats,
                f"{tier.price:.2f}",
                f"{tier.seats * tier.price:.2f}",
                f"{annual:.2f}",
                f"{disc:.2f}",
                f"{annual * (1 - disc):.2f}",
            ]
        )
    last = first + len(copy.tiers) - 1
    total = last + 1
    ws[f"A{total}"] = "Total"
    ws[f"A{total}"].font = Font(bold=True)
    for col in "BDEG":
        ws[f"{col}{total}"] = f"=SUM({col}{first}:{col}{last})"
        ws[f"{col}{total}"].font = Font(bold=True)
        ws[f"{col}{total}"].number_format = CURRENCY if col != "B" else "#,##0"
        ws[f"{col}{total}"].border = Border(top=Side(style="medium", color="111827"))
        formulas[f"{col}{total}"] = f"=SUM({col}{first}:{col}{last})"
    widths = [22, 10, 22, 18, 18, 12, 18]
    for i, w in enumerate(widths):
        ws.column_dimensions[chr(65 + i)].width = w
    ws.row_dimensions[header_row].height = 32
    ws.freeze_panes = f"A{first}"

    notes = wb.create_sheet("Assumptions")
    notes.append(["Assumption", "Value"])
    for c in notes[1]:
        c.font = Font(bold=True, color="FFFFFF")
        c.fill = head_fill
    notes.append(["Billing", "Monthly per seat, annual commitment"])
    notes.append(["Currency", "USD"])
    notes.append(
        ["Prices", "Illustrative list prices from the built-in template" if not request.copy else "From the request"]
    )
    notes.column_dimensions["A"].width = 18
    notes.column_dimensions["B"].width = 48

    stem = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "spreadsheet"
    xlsx = dest / f"{stem}.xlsx"
    wb.save(xlsx)
    csv_path = dest / f"{stem}.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(csv_rows)
    return GeneratedOutput(
        category="spreadsheet",
        deliverable_id=request.deliverable.id,
        title=title,
        root=str(dest),
        primary=xlsx.name,
        files=describe_files(dest, [xlsx, csv_path]),
        metadata={
            "notes": copy.notes,
            "sheets": ["Pricing", "Assumptions"],
            "rows": len(copy.tiers),
            "formulas": len(formulas),
        },
        expectations={
            "sheets": {"Pricing": {"header_row": header_row, "headers": HEADERS}},
            "formulas": {"Pricing": formulas},
            "csv": {"file": csv_path.name, "headers": HEADERS, "rows": len(copy.tiers)},
        },
        content_source=request.content_source,
        source_prompt=request.source_prompt,
    )
