"""Diagnoses for a column whose *every* value breaks its type: an export problem, not bad rows.

Row-level advice ("correct or drop those rows") is wrong when no row is right. Once a file
is read, a type problem that covers all its rows is rewritten (:func:`diagnose`):

* a date column written in another format (``01/31/2022``): the format seen and the one
  expected (``YYYY-MM-DD``), with a conversion;
* an id or count column holding text (``SKU-00017``) or decimals (``12.0``): an example, why
  ids must be whole numbers, and how to number them consistently across the files.
"""

from __future__ import annotations

import datetime as dt
import re

from demandcast.data.schemas import TYPE_CHECK, Findings

# strptime format -> how a person writes it; tried in this order.
DATE_FORMATS = {
    "%m/%d/%Y": "MM/DD/YYYY", "%d/%m/%Y": "DD/MM/YYYY", "%Y/%m/%d": "YYYY/MM/DD",
    "%m/%d/%y": "MM/DD/YY", "%d/%m/%y": "DD/MM/YY", "%d.%m.%Y": "DD.MM.YYYY",
    "%d-%m-%Y": "DD-MM-YYYY", "%m-%d-%Y": "MM-DD-YYYY", "%Y%m%d": "YYYYMMDD",
    "%Y-%m-%d %H:%M:%S": "YYYY-MM-DD HH:MM:SS", "%Y-%m-%dT%H:%M:%S": "YYYY-MM-DDTHH:MM:SS",
    "%d-%b-%Y": "DD-Mon-YYYY", "%b %d, %Y": "Mon DD, YYYY",
}
DECIMAL = re.compile(r"^-?\d+\.0+$")
IDS = {"store_nbr": "stores.csv", "item_nbr": "items.csv"}


def date_formats(values: list[str]) -> list[str]:
    """The formats (``DATE_FORMATS``) every one of ``values`` is written in."""
    def fits(fmt: str) -> bool:
        try:
            for value in values:
                dt.datetime.strptime(value.strip(), fmt)
        except ValueError:
            return False
        return True

    return [fmt for fmt in DATE_FORMATS if values and fits(fmt)]


def _date(file: str, column: str, values: list[str]) -> tuple[str, str, str]:
    found = date_formats(values)
    if not found:
        return ("date format", f"every {column} in {file} fails to read as a date written YYYY-MM-DD "
                f"(e.g. {values[0]!r}), in no format this check knows",
                f"write {column} as YYYY-MM-DD (e.g. 2017-08-15) in every row and export {file} again")
    seen = " or ".join(DATE_FORMATS[f] for f in found)
    ambiguous = " (these rows fit both; check which one the export used)" if len(found) > 1 else ""
    return ("date format", f"every {column} in {file} is written {seen} (e.g. {values[0]!r}), but dates "
            f"must be written YYYY-MM-DD{ambiguous}",
            f"convert the column, e.g. with pandas: `df['{column}'] = pd.to_datetime(df['{column}'], "
            f"format='{found[0]}').dt.strftime('%Y-%m-%d')`, or format it as YYYY-MM-DD in the "
            "spreadsheet before exporting")


def _number(file: str, column: str, values: list[str]) -> tuple[str, str, str]:
    example = values[0]
    if all(DECIMAL.match(v.strip()) for v in values):
        return ("whole numbers", f"every {column} in {file} is written with decimals (e.g. {example!r}), "
                "but it must be a whole number", f"write {column} without the decimals "
                f"({example.split('.')[0]}), e.g. `df['{column}'] = df['{column}'].astype('int64')` in pandas")
    master = IDS.get(column)
    if master is None:
        return ("text ids", f"every {column} in {file} is text (e.g. {example!r}), but it must be a whole "
                "number", f"write {column} as whole numbers in every row of {file}")
    return ("text ids", f"every {column} in {file} is text (e.g. {example!r}), but ids must be whole "
            f"numbers, as in Favorita's export (the model uses them as numbers)",
            f"number the ids: give each distinct {column} a whole number, the same one in {master} and in "
            f"every file that refers to it (train.csv, transactions.csv, test.csv), e.g. with pandas "
            f"`codes = {{v: i for i, v in enumerate(sorted(master['{column}'].unique()), 1)}}` then "
            f"`df['{column}'] = df['{column}'].map(codes)` on each file; keep the table of codes to "
            "translate forecasts back")


def diagnose(findings: Findings, file: str, rows: int, schema) -> None:
    """Rewrite the type problems of ``file`` that cover all ``rows`` rows (see the module docstring)."""
    for key in [k for k in findings.found if k[0] == file and k[1] == TYPE_CHECK]:
        problem = findings.found[key]
        column = problem.column
        spec = schema.columns.get(column)
        values = findings.samples.get((file, column), [])
        if spec is None or not values or problem.failed_rows != rows:
            continue
        kind = str(spec.dtype)
        if kind.startswith("datetime64"):
            check, message, fix = _date(file, column, values)
        elif kind == "int64":
            check, message, fix = _number(file, column, values)
        else:
            continue
        del findings.found[key]
        findings.add(file, check, column, rows, [f"{column} = {v!r}" for v in values[:3]], fix, message)
