"""A spreadsheet's table read back, and its totals recalculated.

The table is found the way a reader finds it: the first row with three or more filled cells is
the header, the rows under it are data until a row labelled “Total”. Totals are recalculated
twice when possible: by evaluating the cell formulas here (SUM over ranges, cell references and
arithmetic — enough for what Command writes, and a failed check for anything else), and by
LibreOffice headless when ``soffice`` is installed, whose computed values must agree.
"""

from __future__ import annotations

import ast
import operator
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter, range_boundaries

_REF = re.compile(r"\$?([A-Z]{1,3})\$?(\d{1,6})")
_SUM = re.compile(r"SUM\(([^()]*)\)", re.I)
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


@dataclass
class Table:
    sheet: object
    header_row: int
    headers: list
    data_rows: list[list] = field(default_factory=list)
    data_row_numbers: list[int] = field(default_factory=list)
    total_row: int | None = None


def table(path: Path) -> Table:
    """The first sheet's table; raises ValueError when the sheet has none."""
    ws = load_workbook(str(path)).worksheets[0]
    for row in ws.iter_rows():
        if sum(1 for c in row if c.value not in (None, "")) >= 3:
            header_row = row[0].row
            break
    else:
        raise ValueError(f"sheet “{ws.title}” has no table (no row with three filled cells)")
    t = Table(sheet=ws, header_row=header_row, headers=[c.value for c in ws[header_row]])
    for r in range(header_row + 1, ws.max_row + 1):
        first = ws.cell(row=r, column=1).value
        if first in (None, ""):
            break
        if str(first).strip().lower().startswith("total"):
            t.total_row = r
            break
        t.data_rows.append([c.value for c in ws[r]])
        t.data_row_numbers.append(r)
    return t


class Evaluator:
    """Evaluates the formulas Command writes; anything else raises ValueError (a failed check)."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.seen: set[str] = set()

    def value(self, ref: str) -> float:
        raw = self.ws[ref].value
        if raw is None or raw == "":
            return 0.0
        if isinstance(raw, bool):
            raise ValueError(f"{ref} holds a boolean")
        if isinstance(raw, int | float):
            return float(raw)
        text = str(raw)
        if not text.startswith("="):
            raise ValueError(f"{ref} holds text “{text[:30]}”, not a number")
        if ref in self.seen:
            raise ValueError(f"{ref} refers to itself")
        self.seen.add(ref)
        try:
            return self.formula(text[1:])
        finally:
            self.seen.discard(ref)

    def formula(self, text: str) -> float:
        def total(m: re.Match) -> str:
            parts = [p.strip() for p in m.group(1).split(",") if p.strip()]
            return repr(sum(self._range(p) for p in parts))

        expr = _SUM.sub(total, text.replace("$", ""))
        expr = _REF.sub(lambda m: repr(self.value(f"{m.group(1)}{m.group(2)}")), expr)
        return _arith(ast.parse(expr, mode="eval").body)

    def _range(self, part: str) -> float:
        if ":" not in part:
            return self.value(part) if _REF.fullmatch(part) else float(part)
        min_col, min_row, max_col, max_row = range_boundaries(part)
        return sum(
            self.value(f"{get_column_letter(c)}{r}")
            for c in range(min_col, max_col + 1)
            for r in range(min_row, max_row + 1)
        )


def _arith(node) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_arith(node.left), _arith(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_arith(node.operand)
    raise ValueError("a formula Command cannot evaluate")


def check_totals(path: Path) -> str:
    """Every filled cell of the totals row is a formula whose value equals the column's data
    rows added up (each evaluated); LibreOffice's recalculated values must agree where it runs."""
    t = table(path)
    if t.total_row is None:
        raise ValueError("no row labelled “Total” under the table")
    if not t.data_rows:
        raise ValueError("the table has no data rows above its totals")
    ev = Evaluator(t.sheet)
    computed: dict[str, float] = {}
    for cell in t.sheet[t.total_row][1:]:
        if cell.value in (None, ""):
            continue
        ref = cell.coordinate
        if not str(cell.value).startswith("="):
            raise ValueError(f"{ref} is a typed-in number, not a formula")
        got = ev.value(ref)
        col = cell.column_letter
        expected = sum(ev.value(f"{col}{r}") for r in t.data_row_numbers)
        if abs(got - expected) > 0.005:
            raise ValueError(f"{ref} computes {got:,.2f} but its column adds up to {expected:,.2f}")
        computed[ref] = got
    if not computed:
        raise ValueError("the totals row has no formulas")
    detail = f"{len(computed)} totals recalculated over {len(t.data_rows)} rows"
    office = libreoffice_values(path, t.sheet.title, list(computed))
    if isinstance(office, str):
        return f"{detail}; {office}"
    wrong = [ref for ref, v in computed.items() if office.get(ref) is None or abs(office[ref] - v) > 0.005]
    if wrong:
        raise ValueError(f"LibreOffice computes {', '.join(f'{r}={office.get(r)}' for r in wrong[:3])} instead")
    return f"{detail}; LibreOffice agrees"


def libreoffice_values(path: Path, sheet: str, refs: list[str]) -> dict[str, float] | str:
    """The refs' values after LibreOffice headless recalculates the workbook, or a sentence
    saying why that could not happen (not installed, timed out)."""
    from outputs.libreoffice import convert

    with tempfile.TemporaryDirectory(prefix="command-recalc-") as tmp:
        converted = convert(path, to="xlsx", workdir=Path(tmp))
        if isinstance(converted, str):
            return f"{converted}, so only Command's own recalculation counts"
        ws = load_workbook(str(converted), data_only=True)[sheet]
        values = {}
        for ref in refs:
            v = ws[ref].value
            values[ref] = float(v) if isinstance(v, int | float) else None
        return values
