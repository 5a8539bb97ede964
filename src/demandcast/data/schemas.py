"""Pandera schemas of the raw Favorita-style files, built from the config, and how to apply them.

Each schema is applied in two passes (:func:`check_chunk`): first the types, then the value
checks on the rows that parsed, so a value that cannot be parsed is reported once as a
type problem instead of again by every range check that cannot compare it. Every check
carries its rule in ``title`` and its fix in ``description``: the advice stays beside the rule.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field, replace

import pandas as pd
import pandera.pandas as pa
from pandera.engines import pandas_engine

TEXT = pd.StringDtype("pyarrow")  # cheap to coerce from the reader's Arrow strings
DATE = pandas_engine.DateTime(to_datetime_kwargs={"format": "%Y-%m-%d"})
STORE_TYPES = ("A", "B", "C", "D", "E")
HOLIDAY_TYPES = ("Holiday", "Transfer", "Additional", "Bridge", "Work Day", "Event")
LOCALES = ("National", "Regional", "Local")
BOOLEAN = ("True", "False")
SAMPLES = 50  # unparseable values kept per column, for whole-column diagnoses

# Pandera's own check names, as a person would say them.
TYPE_CHECK, MISSING_CHECK, DUPLICATE_CHECK = "type", "missing value", "duplicate key"
BUILTIN_NAMES = {"not_nullable": MISSING_CHECK, "field_uniqueness": DUPLICATE_CHECK,
                 "multiple_fields_uniqueness": DUPLICATE_CHECK}
KINDS = {"int64": "a whole number", "float64": "a number", "string": "text",
         "datetime64[ns]": "a date written YYYY-MM-DD"}


def _rule(check, *args, name: str, rule: str, fix: str) -> pa.Check:
    """A check reported as ``name``, carrying the rule it enforces and how to fix a breach."""
    return check(*args, name=name, error=name, title=rule, description=fix)


def _positive(file: str, column: str) -> pa.Check:
    return _rule(pa.Check.gt, 0, name="positive", rule=f"{column} must be > 0",
                 fix=f"correct or drop those rows of {file}")


def _one_of(file: str, column: str, allowed: tuple) -> pa.Check:
    listed = ", ".join(map(str, allowed))
    return _rule(pa.Check.isin, list(allowed), name="allowed values",
                 rule=f"{column} must be one of {listed}",
                 fix=f"correct or drop those rows of {file} (the values are case-sensitive)")


def _dates(file: str, start: str, end: str, as_of: dt.date, end_key: str = "data.end") -> list[pa.Check]:
    first, last, today = pd.Timestamp(start), pd.Timestamp(end), pd.Timestamp(as_of)
    # A future date is reported only as "in the future", not also as outside the history.
    in_history = _rule(
        pa.Check, lambda s: (s >= first) & ((s <= last) | (s > today)), name="date range",
        rule=f"dates must lie within data.start..{end_key} ({start}..{end})",
        fix=(f"drop the other rows of {file}, or choose the data preset whose dates match "
             "this data (`python -m stages.validate data=<preset>`)"))
    not_future = _rule(
        pa.Check.le, today, name="date in the future",
        rule=f"dates must not be after {as_of} (validate.as_of, or today in UTC)",
        fix="such rows cannot have been observed yet: correct the dates (day/month swapped? "
            "wrong clock?), or set validate.as_of=YYYY-MM-DD")
    return [in_history, not_future]


def _unique(file: str, key: str) -> dict:
    return {"title": f"one row per {key}",
            "description": f"keep one row per {key} in {file}: drop or merge the repeats"}


def build(data, validate, as_of: dt.date) -> dict[str, pa.DataFrameSchema]:
    """The schema of every raw file, keyed by file name, in column order."""
    low, high = float(validate.unit_sales.min), float(validate.unit_sales.max)
    start, end = str(data.start), str(data.end)

    def schema(file: str, columns: dict, **kwargs) -> pa.DataFrameSchema:
        return pa.DataFrameSchema(columns, name=file, strict=True, **kwargs)

    col = pa.Column
    return {
        "stores.csv": schema("stores.csv", {
            "store_nbr": col("int64", _positive("stores.csv", "store_nbr"), unique=True,
                             **_unique("stores.csv", "store_nbr")),
            "city": col(TEXT), "state": col(TEXT),
            "type": col(TEXT, _one_of("stores.csv", "type", STORE_TYPES)),
            "cluster": col("int64", _positive("stores.csv", "cluster")),
        }),
        "items.csv": schema("items.csv", {
            "item_nbr": col("int64", _positive("items.csv", "item_nbr"), unique=True,
                            **_unique("items.csv", "item_nbr")),
            "family": col(TEXT), "class": col("int64"),
            "perishable": col("int64", _one_of("items.csv", "perishable", (0, 1))),
        }),
        "holidays_events.csv": schema("holidays_events.csv", {
            "date": col(DATE),  # the calendar is known in advance: any date is fine
            "type": col(TEXT, _one_of("holidays_events.csv", "type", HOLIDAY_TYPES)),
            "locale": col(TEXT, _one_of("holidays_events.csv", "locale", LOCALES)),
            "locale_name": col(TEXT), "description": col(TEXT),
            "transferred": col(TEXT, _one_of("holidays_events.csv", "transferred", BOOLEAN)),
        }),
        "transactions.csv": schema("transactions.csv", {
            "date": col(DATE, _dates("transactions.csv", start, end, as_of)),
            "store_nbr": col("int64", _positive("transactions.csv", "store_nbr")),
            "transactions": col("int64", _positive("transactions.csv", "transactions")),
        }, unique=["date", "store_nbr"], **_unique("transactions.csv", "(date, store_nbr)")),
        "oil.csv": schema("oil.csv", {
            # oil prices are published past the sales history (Favorita's run 2 weeks longer)
            "date": col(DATE, _dates("oil.csv", start, str(data.calendar_until), as_of,
                                     "data.calendar_until"), unique=True,
                        **_unique("oil.csv", "date")),
            "dcoilwtico": col("float64", _rule(
                pa.Check.gt, 0, name="positive", rule="an oil price must be > 0",
                fix="leave the cell empty on days without a quote"), nullable=True),
        }),
        "train.csv": schema("train.csv", {
            "id": col("int64"),
            "date": col(DATE, _dates("train.csv", start, end, as_of)),
            "store_nbr": col("int64", _positive("train.csv", "store_nbr")),
            "item_nbr": col("int64", _positive("train.csv", "item_nbr")),
            "unit_sales": col("float64", _rule(
                pa.Check.in_range, low, high, name="range",
                rule=f"unit_sales must lie in [{low:g}, {high:g}] (validate.unit_sales.min/max)",
                fix="correct those rows, or widen the bounds if such sales are real")),
            "onpromotion": col(TEXT, _one_of("train.csv", "onpromotion", BOOLEAN),
                               nullable=True),  # empty: not tracked yet, as in Favorita
        }),
        # The promotion plan (demandcast.data.promotions): Favorita's test.csv schema.
        "test.csv": schema("test.csv", {
            "id": col("int64"),
            "date": col(DATE, _rule(
                pa.Check.in_range, pd.Timestamp(start), pd.Timestamp(str(data.calendar_until)),
                name="date range", rule=f"dates must lie within data.start..data.calendar_until "
                f"({start}..{data.calendar_until}): promotions are planned ahead, up to the calendar's end",
                fix="drop the other rows of test.csv, or extend data.calendar_until")),
            "store_nbr": col("int64", _positive("test.csv", "store_nbr")),
            "item_nbr": col("int64", _positive("test.csv", "item_nbr")),
            "onpromotion": col(TEXT, _one_of("test.csv", "onpromotion", BOOLEAN)),
        }),
    }


def types_only(schema: pa.DataFrameSchema) -> pa.DataFrameSchema:
    """The same columns, types and nullability, coerced, with no value checks or keys."""
    columns = {name: pa.Column(c.dtype, nullable=c.nullable, coerce=True)
               for name, c in schema.columns.items()}
    return pa.DataFrameSchema(columns, name=schema.name, strict=True)


def checks_only(schema: pa.DataFrameSchema) -> pa.DataFrameSchema:
    """The value checks, for rows already typed by :func:`types_only` (nulls reported there)."""
    return schema.update_columns({name: {"nullable": True} for name in schema.columns})


def explain(schema: pa.DataFrameSchema, column: str | None, check: str) -> tuple[str, str]:
    """(the rule, what to do) for a failed ``check`` on ``column`` of ``schema``'s file."""
    file, spec = schema.name, schema.columns.get(column)
    if check == TYPE_CHECK and spec is not None:
        kind = KINDS.get(str(spec.dtype), str(spec.dtype))
        return f"{column} must be {kind}", f"correct or drop those rows of {file}"
    if check == MISSING_CHECK:
        return f"{column} must not be empty", f"fill in {column}, or drop those rows of {file}"
    if check == DUPLICATE_CHECK:
        owner = spec if spec is not None and spec.unique else schema
        return owner.title or "unique rows", owner.description or f"drop the repeats in {file}"
    for rule in spec.checks if spec is not None else ():
        if rule.name == check:
            return rule.title, rule.description
    return f"{column} must pass {check}", f"correct {column} in {file}"


@dataclass
class Problem:
    """One failed check of one file, summed over chunks."""

    file: str
    check: str
    column: str | None
    failed_rows: int | None
    examples: list[str]
    fix: str
    message: str


@dataclass
class Findings:
    """Problems found so far, merged by (file, check, column) across chunks."""

    max_examples: int
    found: dict[tuple, Problem] = field(default_factory=dict)
    samples: dict[tuple, list[str]] = field(default_factory=dict)  # (file, column) -> bad raw values

    def add(self, file: str, check: str, column: str | None, rows: int | None,
            examples: list[str], fix: str, message: str = "") -> None:
        problem = self.found.setdefault((file, check, column),
                                        Problem(file, check, column, None, [], fix, message))
        if rows is not None:
            problem.failed_rows = (problem.failed_rows or 0) + rows
        for example in examples:
            if len(problem.examples) < self.max_examples and example not in problem.examples:
                problem.examples.append(example)

    def bad_rows(self, source) -> None:
        """Rows :mod:`demandcast.data.rawcsv` skipped from ``source`` for their number of fields."""
        name, width = source.path.name, len(source.header)
        if source.truncated:
            self.add(name, "looks truncated", None, 1, [source.truncated],
                     f"{name} was cut off mid-row: copy or download it again completely",
                     f"the last line has fewer fields than the header's {width} and the file "
                     "does not end with a newline")
        for rows, what in ((source.too_many, "more"), (source.too_few, "fewer")):
            if rows.count:
                self.add(name, "field count", None, rows.count, rows.examples,
                         f"every row must have {width} fields like the header; quote values "
                         "that contain commas, or drop the broken rows",
                         f"{{rows}} row(s) have {what} fields than the header's {width} "
                         "(skipped, not checked further)")

    def problems(self) -> list[Problem]:
        """The problems, each message saying how many rows in all chunks fail."""
        out = []
        for p in self.found.values():
            rows = f"{p.failed_rows:,}" if p.failed_rows is not None else "some"
            message = p.message or f"{{rows}} row(s) fail the '{p.check}' check"
            out.append(replace(p, message=message.replace("{rows}", rows)))
        return out


def _example(raw: pd.DataFrame, line, column: str | None, keys: list[str]) -> str:
    if line is None or pd.isna(line) or line not in raw.index:
        return ""
    if column in raw.columns:
        value = raw.at[line, column]
        return f"line {line}: " + ("(empty)" if pd.isna(value) else repr(str(value)))
    return f"line {line}: " + ", ".join(f"{k}={raw.at[line, k]}" for k in keys)


def _record(cases: pd.DataFrame, raw: pd.DataFrame, schema: pa.DataFrameSchema,
            findings: Findings) -> set:
    """Add pandera failure cases to ``findings``; return the offending line numbers."""
    lines: set = set()
    keys = list(schema.unique or [])
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=True):
        column = None if pd.isna(column) or column == schema.name else column
        if column is None and keys:
            column = ", ".join(keys)
        found = group["index"].dropna().unique()
        lines.update(found.tolist())
        examples = [_example(raw, line, column, keys) for line in found[: findings.max_examples]]
        if check == TYPE_CHECK and column in raw.columns:  # kept to diagnose a whole column later
            kept = findings.samples.setdefault((schema.name, column), [])
            kept += [str(v) for v in raw.loc[found[:max(0, SAMPLES - len(kept))], column] if not pd.isna(v)]
        rule, fix = explain(schema, column if column in schema.columns else None, check)
        findings.add(schema.name, check, column, len(found), [e for e in examples if e], fix,
                     "{rows} row(s) break the rule: " + rule)
    return lines


def check_chunk(raw: pd.DataFrame, passes: tuple[pa.DataFrameSchema, ...],
                findings: Findings) -> pd.DataFrame:
    """Validate one all-string chunk; return its typed rows (unparseable rows dropped).

    ``passes`` is what :func:`two_passes` returns for the file's schema.
    """
    schema, types, values = passes
    with warnings.catch_warnings():
        # pandera's own concat of failure cases warns about pandas internals; not the user's.
        warnings.simplefilter("ignore", FutureWarning)
        return _check_chunk(raw, schema, types, values, findings)


def _check_chunk(raw, schema, types, values, findings) -> pd.DataFrame:
    try:
        typed = types.validate(raw, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        check = cases["check"].astype(str)
        coerce = check.str.startswith("coerce_dtype")
        # dtype(...) repeats every coercion failure; a null that fails coercion is "missing".
        cases = cases[~check.str.startswith("dtype(") & ~(coerce & cases["failure_case"].isna())]
        cases = cases.assign(check=cases["check"].map(BUILTIN_NAMES).fillna(TYPE_CHECK))
        bad = _record(cases, raw, schema, findings)
        typed = types.validate(raw.drop(index=list(bad)))
    try:
        values.validate(typed, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        cases = cases.assign(check=cases["check"].map(lambda c: BUILTIN_NAMES.get(c, c)))
        _record(cases, raw, schema, findings)
    return typed


def two_passes(schema: pa.DataFrameSchema) -> tuple[pa.DataFrameSchema, ...]:
    """The schemas :func:`check_chunk` applies (the full one names the rules), built once."""
    return schema, types_only(schema), checks_only(schema)
