"""What the features stage warns about: features that cannot tell anything apart.

* A named holiday (``data.holidays.named``) whose description no national row of the
  calendar has: its three features (``is_``, ``days_to_``, ``days_since_<name>``) would be
  constant. Typically a calendar in another language (Favorita's is Ecuador's, in Spanish).
* Any feature constant over the training window (the feature table's rows up to
  ``training_window_end``): a model cannot learn from it. On a US calendar ``hol_bridge``
  and ``hol_work_day`` are such features (no Bridge or Work Day rows), which is fine; a
  whole group of them usually is not.

:func:`report` gives the warnings and the lists that ``reports/features.json`` holds.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from demandcast.data.holiday_calendar import missing_named
from demandcast.features.feature_spec import KEYS, Spec

# About two years of history give a training window 40% or more of rows with last year's
# sales (the demo 54%, bench/accuracy.py's worlds 41-48%, tiny 40%); tiny_drift's 16 months
# give 13%, and its model with the yearly features was 6% worse than the one without.
YEARLY_MIN_SHARE = 1 / 3


def national_descriptions(holidays: DataFrame) -> list[str]:
    """Descriptions of the calendar's national rows that name a day (every type but Transfer)."""
    rows = (holidays.where((F.col("locale") == "National") & (F.col("type") != "Transfer"))
            .select("description").distinct().collect())
    return sorted(r["description"] for r in rows)


def constant_features(table: DataFrame, spec: Spec, train_end: str) -> dict[str, float | None]:
    """Each feature with one value (or none at all) on every training-window row, with that value."""
    names = [n for n in spec.names() if n not in KEYS]
    window = table.where(F.col("date") <= F.lit(train_end).cast("date"))
    aggs = [F.count(F.lit(1)).alias("_rows")]
    for i, name in enumerate(names):
        aggs += [F.min(name).alias(f"lo{i}"), F.max(name).alias(f"hi{i}"), F.count(name).alias(f"n{i}")]
    row = window.agg(*aggs).first()
    out = {}
    for i, name in enumerate(names):
        lo, hi, n = row[f"lo{i}"], row[f"hi{i}"], row[f"n{i}"]
        if n == 0:
            out[name] = None
        elif n == row["_rows"] and lo == hi:
            out[name] = float(lo)
        # else: it varies, or it is missing on some rows and set on others (which tells something)
    return out


def yearly_share(table: DataFrame, spec: Spec, train_end: str) -> float | None:
    """The share of training-window rows with a yearly base (last year's sales), or None
    without yearly features or rows."""
    if not spec.yearly:
        return None
    base = f"yearly_base_{spec.yearly[2]}"
    row = (table.where(F.col("date") <= F.lit(train_end).cast("date"))
           .agg(F.count(F.lit(1)).alias("rows"), F.count(base).alias("with")).first())
    return row["with"] / row["rows"] if row["rows"] else None


def report(table: DataFrame, holidays: DataFrame, spec: Spec, train_end: str, holiday_source: str) -> dict:
    """The features stage's checks: what ``reports/features.json`` holds, warnings included."""
    missing = missing_named(national_descriptions(holidays), spec.named)
    constant = constant_features(table, spec, train_end)
    warnings = [
        f"named holiday {name!r} ({text!r}) never occurs in the calendar ({holiday_source}, national "
        f"rows): is_{name}, days_to_{name} and days_since_{name} are constant; set data.holidays.named "
        "to this calendar's description of it, or remove it"
        for name, text in missing.items()]
    if constant:
        shown = ", ".join(f"{n} (always {'missing' if v is None else f'{v:g}'})" for n, v in constant.items())
        warnings.append(f"{len(constant)} feature(s) are constant over the training window (to {train_end}), "
                        f"so the model cannot use them: {shown}")
    yearly = yearly_share(table, spec, train_end)
    if yearly is not None and 0 < yearly < YEARLY_MIN_SHARE:
        warnings.append(f"features.yearly: only {yearly:.0%} of the training window's rows (to {train_end}) "
                        "have last year's sales, too few to learn the yearly features from; with less "
                        "than about two years of history set features.yearly=null")
    return {"holidays": {"source": holiday_source, "named": dict(spec.named), "named_missing": missing},
            "constant_features": constant, "yearly_share": yearly, "training_window_end": train_end,
            "warnings": warnings}
