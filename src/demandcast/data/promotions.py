"""The promotion plan: which store x item x day is (or will be) on promotion, sold or not.

``train.csv`` follows Favorita's convention: rows only on days with sales, so its
``onpromotion`` flag is only known where something sold, and read as "the plan" it leaks the
target (a promoted day without sales never appears). The plan is a separate file with the
name and schema of Favorita's ``test.csv``, the promotion calendar Kaggle gives for its
forecast window::

    id,date,store_nbr,item_nbr,onpromotion

One row per store x item x day; ``onpromotion`` is ``True`` or ``False`` (Favorita lists
every pair of its forecast window; a plan may list only the promoted days, as the
generator's does). A day the plan does not list is not promoted. The file is optional:
without it nothing after the history counts as promoted.

Who reads it: the features stage (a promoted day in the plan is promoted in the feature
table, also when ``train.csv`` has no row for it), evaluation (the forecast window's
promotions come only from the plan, never from the sales rows), and serving takes the
same information per request (``promotions``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

PLAN_FILE = "test.csv"  # Favorita's name for it
COLUMNS = ("id", "date", "store_nbr", "item_nbr", "onpromotion")
KEYS = ["store_nbr", "item_nbr", "date"]


def plan_path(data_dir) -> Path:
    return Path(data_dir) / PLAN_FILE


def read_plan(data_dir) -> pd.DataFrame | None:
    """The promoted days (store_nbr, item_nbr, date as datetime64), or None without a plan."""
    from demandcast.data.rawcsv import locate

    path = locate(data_dir, PLAN_FILE)
    if path is None:
        return None
    plan = pd.read_csv(path, usecols=["date", "store_nbr", "item_nbr", "onpromotion"],
                       dtype={"onpromotion": "string"})
    promoted = plan["onpromotion"].str.strip().str.lower() == "true"
    out = plan.loc[promoted.fillna(False), KEYS].astype({"store_nbr": "int64", "item_nbr": "int64"})
    out["date"] = pd.to_datetime(out["date"])
    return out.drop_duplicates().sort_values(KEYS).reset_index(drop=True)


def coverage(plan: pd.DataFrame | None) -> list[str] | None:
    """The first and last promoted day the plan lists, or None."""
    if plan is None or plan.empty:
        return None
    return [str(plan["date"].min().date()), str(plan["date"].max().date())]
