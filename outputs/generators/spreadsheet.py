"""Spreadsheet generator: an XLSX pricing model with live formulas (openpyxl) plus a CSV export."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from outputs.generators.base import GeneratedOutput, GenerationRequest, describe_files
from outputs.generators.brand import brand_from
from outputs.generators.copywriting import Tier, copy_for

HEADERS = ["Plan", "Seats", "Price per seat (monthly)", "Monthly total", "Annual total", "Discount", "Net annual"]
CURRENCY = '"$"#,##0.00'


PERIOD_LABELS = {
    "quarterly": ["Q1", "Q2", "Q3", "Q4"],
    "monthly": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    "weekly": [f"Week {n}" for n in range(1, 14)],
    "annual": ["Year 1", "Year 2", "Year 3"],
}
DEPARTMENTS = ["Operations", "Sales", "Marketing", "Engineering", "Finance", "People", "Customer support",
               "Research", "Legal", "Facilities", "IT", "Procurement"]  # fmt: skip
# Row nouns the brief may count, and the label of their column.
ROW_NOUNS = {"departments": "Department", "teams": "Team", "projects": "Project", "categories": "Category",
             "products": "Product", "items": "Item", "clients": "Client", "stores": "Store", "regions": "Region",
             "locations": "Location", "employees": "Employee", "lines": "Line"}  # fmt: skip


def generate(request: GenerationRequest, dest: Path) -> GeneratedOutput:
    if request.options.get("sheet_spec"):
        return _from_spec(request, dest)
    if request.brief.genre == "invoice":
        return _invoice(request, dest)
    if request.brief.genre in {"budget", "forecast", "tracker", "expense tracker"} or request.brief.period:
        return _period_table(request, dest)
    return _pricing(request, dest)


def _invoice(request: GenerationRequest, dest: Path) -> GeneratedOutput:
    """Line items (quantity × unit price = amount, live formulas) and a SUM total. Every item,
    price, number and address is a bracketed placeholder: an invoice states facts Command lacks."""
    brief = request.brief
    brand = brand_from(request)
    title = request.title
    dest.mkdir(parents=True, exist_ok=True)
    n_rows = max(1, min(50, next((n for k, n in brief.counts.items() if k in ("items", "lines", "hours")), 3)))
    headers = ["Item", "Quantity", "Unit price", "Amount"]
    wb = Workbook()
    ws = wb.active
    ws.title = "Invoice"
    ws["A1"] = title
    ws["A1"].font = Font(bold=True, size=14, color=brand.dark.lstrip("#").upper())
    ws["A2"] = "Invoice [INV-0001] · issued [date] · bill to [client name and address] · all figures are placeholders"
    ws["A2"].font = Font(italic=True, color="6B7280")
    header_row, first = 4, 5
    head_fill = PatternFill("solid", fgColor=brand.primary.lstrip("#").upper())
    for col, text in enumerate(headers, start=1):
        c = ws.cell(row=header_row, column=col, value=text)
        c.font = Font(bold=True, color="FFFFFF")
        c.fill = head_fill
    formulas: dict[str, str] = {}
    csv_rows = [headers]
    for i in range(n_rows):
        r = first + i
        qty, price = 1 + i, 100.0
        ws.cell(row=r, column=1, value=f"[Item {i + 1}]")
        ws.cell(row=r, column=2, value=qty).font = Font(color="1D4ED8")
        ws.cell(row=r, column=3, value=price).font = Font(color="1D4ED8")
        ws[f"C{r}"].number_format = CURRENCY
        ws[f"D{r}"] = f"=B{r}*C{r}"
        ws[f"D{r}"].number_format = CURRENCY
        formulas[f"D{r}"] = f"=B{r}*C{r}"
        csv_rows.append([f"[Item {i + 1}]", qty, f"{price:.2f}", f"{qty * price:.2f}"])
    last, total_row = first + n_rows - 1, first + n_rows
    ws[f"A{total_row}"] = "Total"
    ws[f"A{total_row}"].font = Font(bold=True)
    ws[f"D{total_row}"] = f"=SUM(D{first}:D{last})"
    ws[f"D{total_row}"].font = Font(bold=True)
    ws[f"D{total_row}"].number_format = CURRENCY
    formulas[f"D{total_row}"] = f"=SUM(D{first}:D{last})"
    csv_rows.append(["Total", "", "", f"{sum(float(r[3]) for r in csv_rows[1:]):.2f}"])
    ws.column_dimensions["A"].width = 40
    for col in "BCD":
        ws.column_dimensions[col].width = 14
    return _saved(
        request, dest, wb, title=title, stem_default="invoice", sheet="Invoice", sheets=["Invoice"],
        header_row=header_row, headers=headers, formulas=formulas, rows=n_rows, csv_rows=csv_rows,
        csv_rows_expected=n_rows + 1,
        notes=["Items, prices, the invoice number and the client are placeholders: fill them in."],
    )  # fmt: skip


def _period_table(request: GenerationRequest, dest: Path) -> GeneratedOutput:
    """Rows (departments, teams …) × periods (Q1–Q4 …) of placeholder amounts, with live SUM totals
    per row and per period. Every amount is an illustrative input, marked as such."""
    brief = request.brief
    brand = brand_from(request)
    title = request.title
    dest.mkdir(parents=True, exist_ok=True)
    # Rows as counted in the request; unnamed rows are marked placeholders, never invented names.
    noun = next((n for n in brief.counts if n in ROW_NOUNS), "categories" if brief.genre == "budget" else "items")
    n_rows = max(1, min(50, brief.counts.get(noun, 4)))
    label = ROW_NOUNS.get(noun, "Item")
    names = DEPARTMENTS if noun == "departments" else []
    names = (names + [f"[{label} {i}]" for i in range(len(names) + 1, n_rows + 1)])[:n_rows]
    periods = PERIOD_LABELS.get(brief.period or "quarterly", PERIOD_LABELS["quarterly"])
    headers = [label, *periods, "Year total" if brief.period != "annual" else "Total"]
    wb = Workbook()
    ws = wb.active
    ws.title = "Budget" if brief.genre == "budget" else "Plan"
    head_fill = PatternFill("solid", fgColor=brand.primary.lstrip("#").upper())
    ws["A1"] = title
    ws["A1"].font = Font(bold=True, size=14, color=brand.dark.lstrip("#").upper())
    ws["A2"] = "Blue figures are placeholder amounts from Command's template: replace them; totals recalculate."
    ws["A2"].font = Font(italic=True, color="6B7280")
    header_row, first = 4, 5
    for col, text in enumerate(headers, start=1):
        c = ws.cell(row=header_row, column=col, value=text)
        c.font = Font(bold=True, color="FFFFFF")
        c.fill = head_fill
        c.alignment = Alignment(horizontal="center")
    last_col = get_column_letter(len(headers))
    first_period, last_period = get_column_letter(2), get_column_letter(len(periods) + 1)
    formulas: dict[str, str] = {}
    csv_rows = [headers]
    for i, name in enumerate(names):
        r = first + i
        ws.cell(row=r, column=1, value=name)
        amounts = [round(12000 + 1500 * i + 750 * q, 2) for q in range(len(periods))]
        for q, amount in enumerate(amounts):
            cell = ws.cell(row=r, column=q + 2, value=amount)
            cell.font = Font(color="1D4ED8")
            cell.number_format = CURRENCY
        total = f"=SUM({first_period}{r}:{last_period}{r})"
        ws[f"{last_col}{r}"] = total
        ws[f"{last_col}{r}"].number_format = CURRENCY
        formulas[f"{last_col}{r}"] = total
        csv_rows.append([name, *[f"{a:.2f}" for a in amounts], f"{sum(amounts):.2f}"])
    last = first + n_rows - 1
    total_row = last + 1
    ws[f"A{total_row}"] = "Total"
    ws[f"A{total_row}"].font = Font(bold=True)
    sums = []
    for col in range(2, len(headers) + 1):
        letter = get_column_letter(col)
        formula = f"=SUM({letter}{first}:{letter}{last})"
        cell = ws[f"{letter}{total_row}"]
        cell.value = formula
        cell.font = Font(bold=True)
        cell.number_format = CURRENCY
        cell.border = Border(top=Side(style="medium", color="111827"))
        formulas[f"{letter}{total_row}"] = formula
        sums.append(sum(float(row[col - 1]) for row in csv_rows[1:]))
    csv_rows.append(["Total", *[f"{v:.2f}" for v in sums]])
    ws.column_dimensions["A"].width = 22
    for col in range(2, len(headers) + 1):
        ws.column_dimensions[get_column_letter(col)].width = 14
    ws.freeze_panes = f"B{first}"
    return _saved(
        request, dest, wb, title=title, stem_default="spreadsheet", sheet=ws.title, sheets=[ws.title],
        header_row=header_row, headers=headers, formulas=formulas, rows=n_rows, csv_rows=csv_rows,
        csv_rows_expected=n_rows + 1,
        notes=["The amounts are placeholders from Command's built-in template, not your figures."],
    )  # fmt: skip


def _pricing(request: GenerationRequest, dest: Path) -> GeneratedOutput:
    brand = brand_from(request)
    copy = copy_for(request, brand)
    tiers_wanted = request.brief.counts.get("tiers") or request.brief.counts.get("plans")
    if tiers_wanted and tiers_wanted != len(copy.tiers):
        copy.tiers = _tiers(copy.tiers, tiers_wanted)
    title = request.title
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

    return _saved(
        request, dest, wb, title=title, stem_default="spreadsheet", sheet="Pricing", sheets=["Pricing", "Assumptions"],
        header_row=header_row, headers=HEADERS, formulas=formulas, rows=len(copy.tiers), csv_rows=csv_rows,
        csv_rows_expected=len(copy.tiers), notes=copy.notes,
    )  # fmt: skip


def _saved(
    request: GenerationRequest,
    dest: Path,
    wb,
    *,
    title: str,
    stem_default: str,
    sheet: str,
    sheets: list[str],
    header_row: int,
    headers: list[str],
    formulas: dict,
    rows: int,
    csv_rows: list,
    csv_rows_expected: int,
    notes: list[str],
) -> GeneratedOutput:
    """The workbook and its CSV saved under `dest`, described with what the verifier must find."""
    stem = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or stem_default
    xlsx, csv_path = dest / f"{stem}.xlsx", dest / f"{stem}.csv"
    wb.save(xlsx)
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(csv_rows)
    return GeneratedOutput(
        category="spreadsheet",
        deliverable_id=request.deliverable.id,
        title=title,
        root=str(dest),
        primary=xlsx.name,
        files=describe_files(dest, [xlsx, csv_path]),
        metadata={"notes": notes, "sheets": sheets, "rows": rows, "formulas": len(formulas)},
        expectations={
            "sheets": {sheet: {"header_row": header_row, "headers": headers}},
            "formulas": {sheet: formulas},
            "csv": {"file": csv_path.name, "headers": headers, "rows": csv_rows_expected},
        },
        content_source=request.content_source,
        source_prompt=request.source_prompt,
    )


def _tiers(base: list[Tier], n: int) -> list[Tier]:
    """``n`` pricing tiers: the template's three, trimmed or extended with marked extra tiers."""
    n = max(1, min(8, n))
    out = list(base[:n])
    while len(out) < n:
        k = len(out) + 1
        out.append(Tier(f"Tier {k}", 10 * 4**k, max(9.0, 49.0 - 10 * k), "[Describe this tier]"))
    return out


def _from_spec(request: GenerationRequest, dest: Path) -> GeneratedOutput:
    """A sheet exactly as a validated outputs.content.SheetSpec describes it: its columns, its
    rows (values and formulas as written) and, when asked, a row of SUM totals."""
    from outputs.content import SheetSpec

    spec = SheetSpec.model_validate(request.options["sheet_spec"])
    brand = brand_from(request)
    dest.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    ws = wb.active
    ws.title = re.sub(r"[\\/*?:\[\]]", " ", spec.title)[:31] or "Sheet"
    ws["A1"] = spec.title
    ws["A1"].font = Font(bold=True, size=14, color=brand.dark.lstrip("#").upper())
    header_row, first = 3, 4
    head_fill = PatternFill("solid", fgColor=brand.primary.lstrip("#").upper())
    for col, name in enumerate(spec.columns, start=1):
        c = ws.cell(row=header_row, column=col, value=name)
        c.font = Font(bold=True, color="FFFFFF")
        c.fill = head_fill
    formulas: dict[str, str] = {}
    for i, row in enumerate(spec.rows):
        for col, value in enumerate(row, start=1):
            cell = ws.cell(row=first + i, column=col, value=value)
            if isinstance(value, str) and value.startswith("="):
                formulas[cell.coordinate] = value
    last = first + len(spec.rows) - 1
    if spec.totals:
        ws.cell(row=last + 1, column=1, value="Total").font = Font(bold=True)
        for col in range(2, len(spec.columns) + 1):
            values = [ws.cell(row=r, column=col).value for r in range(first, last + 1)]
            if all(v is None or isinstance(v, int | float) or str(v).startswith("=") for v in values):
                letter = get_column_letter(col)
                formula = f"=SUM({letter}{first}:{letter}{last})"
                ws[f"{letter}{last + 1}"] = formula
                ws[f"{letter}{last + 1}"].font = Font(bold=True)
                formulas[f"{letter}{last + 1}"] = formula
    stem = re.sub(r"[^a-z0-9]+", "-", spec.title.lower()).strip("-")[:60] or "spreadsheet"
    xlsx = dest / f"{stem}.xlsx"
    wb.save(xlsx)
    return GeneratedOutput(
        category="spreadsheet",
        deliverable_id=request.deliverable.id,
        title=spec.title,
        root=str(dest),
        primary=xlsx.name,
        files=describe_files(dest, [xlsx]),
        metadata={"notes": [], "sheets": [ws.title], "rows": len(spec.rows), "formulas": len(formulas)},
        expectations={
            "sheets": {ws.title: {"header_row": header_row, "headers": list(spec.columns)}},
            "formulas": {ws.title: formulas},
        },
        content_source=request.content_source,
        source_prompt=request.source_prompt,
    )
