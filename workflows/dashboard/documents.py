"""Write a report (workflows.dashboard.reports) as an XLSX workbook or a PDF with Vietnamese text.

The PDF uses DejaVu Sans, which has every Vietnamese glyph: the copy matplotlib ships (a pip dependency, so a
fresh machine without root has it), else Debian's fonts-dejavu-core.
"""
from __future__ import annotations

import importlib.util
import io
from functools import lru_cache
from pathlib import Path

from workflows.audit_trail.exports import to_xlsx
from workflows.dashboard.reports import Report

_DEBIAN_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@lru_cache(maxsize=1)
def font_path() -> Path:
    """Return a DejaVu Sans TTF; raise FileNotFoundError when none is installed."""
    spec = importlib.util.find_spec("matplotlib")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if candidate.exists():
            return candidate
    if _DEBIAN_FONT.exists():
        return _DEBIAN_FONT
    raise FileNotFoundError("DejaVuSans.ttf not found: install matplotlib or fonts-dejavu-core")


def report_xlsx(report: Report) -> bytes:
    """Return the report as a workbook: one sheet per table, the title above each header row."""
    from openpyxl import Workbook, load_workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for number, table in enumerate(report.tables, start=1):
        single = load_workbook(io.BytesIO(to_xlsx(table.header, table.rows, table.title)))
        source = single.active
        sheet = book.create_sheet(f"{number}. {table.title}"[:31])
        sheet.append([report.title])
        sheet.append([table.title])
        sheet["A1"].font = Font(bold=True, size=13)
        for row in source.iter_rows(values_only=True):
            sheet.append(list(row))
        for cell in sheet[3]:
            cell.font = Font(bold=True)
        for letter, dimension in source.column_dimensions.items():
            sheet.column_dimensions[letter].width = dimension.width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def report_pdf(report: Report) -> bytes:
    """Return the report as an A4 PDF: title, subtitle, then each table."""
    from fpdf import FPDF

    wide = any(len(table.header) > 5 for table in report.tables)
    pdf = FPDF(orientation="L" if wide else "P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("DejaVu", "", str(font_path()))
    pdf.add_font("DejaVu", "B", str(font_path()))  # headings: the same face (a bold TTF is not always at hand)
    pdf.add_page()
    pdf.set_font("DejaVu", size=13)
    pdf.multi_cell(0, 7, report.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=9)
    pdf.multi_cell(0, 6, report.subtitle, new_x="LMARGIN", new_y="NEXT")
    for table in report.tables:
        pdf.ln(3)
        pdf.set_font("DejaVu", size=11)
        pdf.multi_cell(0, 6, table.title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", size=8)
        if not table.rows:
            pdf.multi_cell(0, 5, "(không có)", new_x="LMARGIN", new_y="NEXT")
            continue
        with pdf.table(first_row_as_headings=True, line_height=4.5) as grid:
            for values in [table.header, *table.rows]:
                row = grid.row()
                for value in values:
                    row.cell("" if value is None else str(value))
    return bytes(pdf.output())
