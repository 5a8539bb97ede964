"""Validate the raw files before any stage reads them.

:func:`run` (the ``validate`` stage) checks every file in ``paths.data`` against
its pandera schema (:mod:`demandcast.data.schemas`) and across files: unique keys, stores and items
known to the master files, dates inside the history and not in the future, and a train.csv
row count that fits the data preset. It always writes ``reports/validation.json`` (no
timestamps, so an unchanged dataset gives an unchanged report) and exits non-zero with an
actionable summary on stderr when anything fails. train.csv is streamed in chunks of
``validate.chunk_rows`` rows, so memory stays bounded even for the full Favorita export.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from demandcast import config
from demandcast.data import holiday_calendar, promotions, rawcsv, schemas, wholecolumn
from demandcast.data.schemas import Findings, check_chunk
from demandcast.errors import UserError

ORDER = ("stores.csv", "items.csv", "holidays_events.csv", "oil.csv", "transactions.csv",
         "train.csv", promotions.PLAN_FILE)  # master files first: the others are checked against them
REPORT = "validation.json"
FAILED_REPORT = "validation_failed.json"  # where a failed validation's report goes (see stages.validate)
MASTERS = {"store_nbr": "stores.csv", "item_nbr": "items.csv"}
KEYED = ("train.csv", promotions.PLAN_FILE)  # one row per (date, store_nbr, item_nbr)
ABSENT = {promotions.PLAN_FILE: "no promotion plan: only train.csv's flags (days with sales) say what "
                                "was promoted, and no forecast day counts as promoted unless a request "
                                "says so"}


@dataclass
class Seen:
    """What one file holds, accumulated over its chunks."""

    rows: int = 0
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    ids: dict[str, set] = field(default_factory=dict)  # distinct store_nbr / item_nbr

    def add(self, typed: pd.DataFrame) -> None:
        if "date" in typed and typed["date"].notna().any():
            lo, hi = typed["date"].min(), typed["date"].max()
            self.first = lo if self.first is None else min(self.first, lo)
            self.last = hi if self.last is None else max(self.last, hi)
        for column in ("store_nbr", "item_nbr"):
            if column in typed:
                self.ids.setdefault(column, set()).update(np.unique(typed[column]).tolist())

    def summary(self, name: str) -> dict:
        out: dict = {"rows": self.rows}
        if self.first is not None:
            out["date_min"], out["date_max"] = str(self.first.date()), str(self.last.date())
        if name not in ("stores.csv", "items.csv"):
            out.update({c.split("_")[0] + "s": len(v) for c, v in self.ids.items()})
        return out


def _as_of(value) -> dt.date:
    if value is None:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise UserError(f"validate.as_of={value!r} is not a date (use YYYY-MM-DD or null)") from None


def _keys(typed: pd.DataFrame) -> np.ndarray:
    """One int64 per row packing (day, store, item), so the whole file's keys fit in memory.

    Rows whose parts do not fit the bit fields are left out: dates outside 1970..2149 fail
    the date checks anyway, and no known export numbers stores past 65535 or items past 2**31.
    """
    day = typed["date"].to_numpy("datetime64[D]").astype(np.int64)
    store, item = typed["store_nbr"].to_numpy(), typed["item_nbr"].to_numpy()
    fits = (day >= 0) & (day < 1 << 16) & (store > 0) & (store < 1 << 16) & \
        (item > 0) & (item < 1 << 31)
    return (day[fits] << 47) | (store[fits] << 31) | item[fits]


def _duplicates(name: str, keys: list[np.ndarray], findings: Findings) -> None:
    ordered = np.concatenate(keys) if keys else np.empty(0, np.int64)
    keys.clear()  # keep only one copy of the keys alive while sorting
    ordered.sort()
    same = ordered[1:] == ordered[:-1]
    if not same.any():
        return
    involved = np.zeros(len(ordered), bool)
    involved[1:] |= same
    involved[:-1] |= same
    values, counts = np.unique(ordered[involved], return_counts=True)
    examples = []
    for key, n in zip(values[: findings.max_examples], counts, strict=False):
        day = np.datetime64(int(key) >> 47, "D")
        examples.append(f"date {day}, store_nbr {(int(key) >> 31) & 0xFFFF}, "
                        f"item_nbr {int(key) & 0x7FFFFFFF} ({n} rows)")
    findings.add(name, schemas.DUPLICATE_CHECK, "date, store_nbr, item_nbr",
                 int(involved.sum()), examples,
                 f"keep one row per (date, store_nbr, item_nbr) in {name}: sum or drop "
                 "the repeated rows",
                 "{rows} rows share their (date, store_nbr, item_nbr) with another row")


def _unknown(name: str, typed: pd.DataFrame, column: str, known: dict[str, set | None],
             findings: Findings) -> None:
    """Rows whose store or item the master file (stores.csv / items.csv) does not list."""
    master = MASTERS[column]
    if known.get(column) is None or column not in typed:
        return  # the master file itself is unreadable; that problem is already reported
    missing = ~typed[column].isin(known[column])
    if missing.any():
        values = typed.loc[missing, column].drop_duplicates().head(findings.max_examples)
        findings.add(name, f"unknown {column.split('_')[0]}", column, int(missing.sum()),
                     [f"{column} {v}" for v in values],
                     f"add these to {master}, or drop their rows from {name}",
                     f"{{rows}} row(s) refer to a {column} that {master} does not list")


def _row_count(seen: Seen, data, findings: Findings) -> None:
    low, high = int(data.rows.min), int(data.rows.max)
    if low <= seen.rows <= high:
        return
    presets = sorted(p.stem for p in (config.conf_dir() / "data").glob("*.yaml"))
    findings.add(
        "train.csv", "row count", None, None,
        [f"{seen.rows:,} rows"],
        f"the bounds come from the data preset '{data.name}' (conf/data/{data.name}.yaml): "
        f"regenerate with `demandcast generate data={data.name}`, or validate with the "
        f"preset matching this data: `python -m stages.validate data=<preset>` "
        f"({', '.join(presets)})",
        f"train.csv has {seen.rows:,} rows, outside {low:,}..{high:,}: the data.rows bounds "
        f"of the data preset '{data.name}'")


def _file(name: str, data_dir: Path, schema, findings: Findings, chunk_rows: int,
          known: dict[str, set | None], keys: list) -> Seen | None:
    columns = list(schema.columns)
    try:
        source = rawcsv.open_checked(data_dir, name, columns)
        extra = [c for c in source.header if c not in columns]
        if extra:
            findings.add(name, "unexpected column", ", ".join(extra), None,
                         [f"found: {', '.join(source.header)}"],
                         f"{name} must have exactly {', '.join(columns)}: drop or rename "
                         "the other column(s)", f"{name} has column(s) no stage expects")
        seen, passes = Seen(), schemas.two_passes(schema)
        for raw in rawcsv.chunks(source, columns, chunk_rows, findings.max_examples):
            typed = check_chunk(raw, passes, findings)
            seen.add(typed)
            if name in ("transactions.csv", *KEYED):
                _unknown(name, typed, "store_nbr", known, findings)
            if name in KEYED:
                _unknown(name, typed, "item_nbr", known, findings)
                keys.append(_keys(typed))
    except rawcsv.Unreadable as exc:
        findings.add(name, exc.check, exc.column, None, exc.examples, exc.fix, exc.message)
        return None
    findings.bad_rows(source)
    seen.rows = source.rows + source.too_many.count + source.too_few.count + \
        bool(source.truncated)
    wholecolumn.diagnose(findings, name, source.rows, schema)
    if seen.rows == 0 and name in ABSENT:  # a header-only plan: nothing planned, which is fine
        return seen
    if seen.rows == 0:
        findings.add(name, "header only", None, None, [f"header: {', '.join(source.header)}"],
                     f"{name} has a header but no rows: the export stopped early; write it "
                     "again", f"{name} has a header but no data rows")
    return seen


def _check_dates(data) -> None:
    """data.start <= data.end <= data.calendar_until, all dates: the preset, not the files."""
    days = {}
    for key in ("start", "end", "calendar_until"):
        try:
            days[key] = dt.date.fromisoformat(str(data[key]))
        except ValueError:
            raise UserError(f"data.{key}={data[key]!r} is not a date (use YYYY-MM-DD)") from None
    if not days["start"] <= days["end"] <= days["calendar_until"]:
        raise UserError(f"the data preset '{data.name}' needs data.start <= data.end <= data.calendar_until, "
                        f"got {days['start']}, {days['end']}, {days['calendar_until']}")


def run(data_dir: Path, data, validate, as_of: dt.date | None = None) -> dict:
    """Validate every raw file in ``data_dir``; return the report (see module docstring)."""
    as_of = as_of or _as_of(validate.as_of)
    chunk_rows, max_examples = int(validate.chunk_rows), int(validate.max_examples)
    if chunk_rows < 1 or max_examples < 0:
        raise UserError("validate.chunk_rows must be >= 1 and validate.max_examples >= 0")
    _check_dates(data)
    all_schemas = schemas.build(data, validate, as_of)
    findings = Findings(max_examples)
    files: dict[str, dict] = {}
    known: dict[str, set | None] = {}
    notes = []
    optional = dict(ABSENT)
    if holiday_calendar.source(data) == "package":
        optional[holiday_calendar.FILE] = (f"the holiday calendar comes from the `holidays` package "
                                           f"(data.holidays.source=package, {data.holidays.country})")
    for name in ORDER:
        if name in optional and rawcsv.locate(data_dir, name) is None:
            files[name] = {"rows": None, "absent": optional[name]}
            notes.append(f"{name} is absent: {optional[name]}")
            continue
        keys: list[np.ndarray] = []
        seen = _file(name, data_dir, all_schemas[name], findings, chunk_rows, known, keys)
        files[name] = seen.summary(name) if seen else {"rows": None}
        for column, master in MASTERS.items():
            if name == master:
                known[column] = seen.ids.get(column) if seen else None
        if name in KEYED and seen is not None:
            _duplicates(name, keys, findings)
        if name == "train.csv" and seen is not None:
            _row_count(seen, data, findings)
    problems = findings.problems()
    return {"status": "failed" if problems else "passed", "data": str(data_dir),
            "preset": str(data.name), "files": files, "notes": notes,
            "problems": [asdict(p) for p in problems]}


def describe(report: dict, path: Path) -> str:
    """The failure summary printed on stderr."""
    problems = report["problems"]
    lines = [f"validation of {report['data']}/ failed: {len(problems)} problem(s) "
             f"(details in {path})"]
    for p in problems:
        where = f"{p['file']}" + (f" [{p['column']}]" if p["column"] else "")
        lines.append(f"- {where} {p['check']}: {p['message']}")
        if p["examples"]:
            lines.append(f"    e.g. {'; '.join(p['examples'])}")
        lines.append(f"    fix: {p['fix']}")
    return "\n".join(lines)
