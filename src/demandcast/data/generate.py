"""Synthetic retail data in Favorita's schema, with the ground truth beside it.

``demandcast generate [key=value ...]`` (:func:`run`) writes ``train.csv``, ``stores.csv``,
``items.csv``, ``holidays_events.csv``, ``transactions.csv``, ``oil.csv`` and the promotion
plan ``test.csv`` (:mod:`demandcast.data.promotions`) to ``paths.data`` and the expected
demand of every active series-day to ``paths.truth``.
The output is byte-identical for the same config and seed. Generation streams in chunks
of ``data.chunk_days`` days, so memory stays flat as the history grows.

``data.later_days`` (default 0) simulates that many days past ``data.end`` and writes
``later/train.csv``: the next export (the whole history plus those days), the actuals
that arrive after a model trained on ``train.csv`` went live, for monitoring. ``data.drift``
shifts demand from a day on (:mod:`demandcast.data.synth.drift`).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from demandcast.data.promotions import PLAN_FILE
from demandcast.data.synth import calendar, catalog, drift
from demandcast.errors import UserError
from demandcast.data.synth.demand import World, simulate

MARKER = "_generator.json"  # says a directory's files were written here, so may be rewritten
RAW_FILES = ("train.csv", "stores.csv", "items.csv", "holidays_events.csv",
             "transactions.csv", "oil.csv", PLAN_FILE)
TRAIN_HEADER = b"id,date,store_nbr,item_nbr,unit_sales,onpromotion\n"
PLAN_HEADER = b"id,date,store_nbr,item_nbr,onpromotion\n"
CSV = pacsv.WriteOptions(include_header=False, quoting_style="none")
LATER = "later/train.csv"  # the next export, with data.later_days more days (data.later_days > 0)


def _day(value, key: str) -> np.datetime64:
    try:
        return np.datetime64(str(value), "D")
    except ValueError:
        raise UserError(f"data.{key}={value!r} is not a date (use YYYY-MM-DD)") from None


def check_config(data) -> tuple[np.datetime64, int]:
    """Validate generator settings; return the first day and the number of days."""
    start, end = _day(data.start, "start"), _day(data.end, "end")
    n_days = int((end - start).astype(int)) + 1
    if n_days < 60:
        raise UserError(f"data.start..data.end spans {n_days} days; the generator needs at least 60")
    if _day(data.calendar_until, "calendar_until") < end:
        raise UserError("data.calendar_until must not be before data.end")
    for key in ("n_stores", "n_items", "chunk_days"):
        if int(data[key]) < 1:
            raise UserError(f"data.{key} must be at least 1, got {data[key]}")
    later = _later_days(data)
    if later < 0 or _day(data.calendar_until, "calendar_until") < end + later:
        raise UserError(f"data.later_days={later} must be >= 0 and end by data.calendar_until "
                        f"({data.calendar_until})")
    for key in ("assortment", "late_store_share", "launch_share", "discontinue_share",
                "slow_mover_share", "return_prob"):
        if not 0.0 <= float(data[key]) <= 1.0:
            raise UserError(f"data.{key} must be between 0 and 1, got {data[key]}")
    return start, n_days


def build_world(data, seed: int) -> tuple[World, dict[str, pd.DataFrame]]:
    """Draw the static world (catalogue, calendar, series parameters) from the seed."""
    start, n_days = check_config(data)
    n_days += _later_days(data)
    rng = np.random.default_rng([seed, 1])
    store = catalog.stores(data, rng, n_days)
    item = catalog.items(data, rng, n_days)
    pairs = catalog.series(data, rng, store, item)
    if pairs.empty:
        raise UserError("data.assortment is so low that no store carries any item")
    weekly = catalog.weekly_effects(store, rng)

    dates = pd.date_range(str(start), periods=n_days, freq="D")
    events = calendar.holidays_events(
        dates[0].date(), pd.Timestamp(str(data.calendar_until)).date(), list(store["state"])
    )
    holiday, closed = calendar.holiday_effects(events, dates)
    doy = dates.dayofyear.to_numpy()
    yearly = np.array(
        [f.season_amp * np.cos(2 * np.pi * (doy - f.season_peak) / 365.25) for f in catalog.FAMILIES]
    )

    fam = catalog.FAMILIES
    i = pairs["item"].to_numpy()
    family = item["family_idx"].to_numpy()[i]
    slow = item["slow"].to_numpy()[i]
    world = World(
        start=start,
        n_days=n_days,
        store_nbr=store["store_nbr"].to_numpy(),
        item_nbr=item["item_nbr"].to_numpy(),
        s_store=pairs["store"].to_numpy(),
        s_item=i,
        level=pairs["level"].to_numpy(),
        trend=item["trend"].to_numpy()[i],
        weekly=weekly[pairs["store"].to_numpy()],
        yearly=yearly,
        s_family=family,
        holiday=holiday,
        s_group=np.array([calendar.GROUPS.index(fam[f].group) for f in family], dtype=np.int64),
        closed=closed,
        store_open=store["open_day"].to_numpy(),
        phi=pairs["phi"].to_numpy(),
        shock_sd=pairs["shock_sd"].to_numpy(),
        state0=pairs["state0"].to_numpy(),
        start_day=pairs["start_day"].to_numpy(),
        end_day=pairs["end_day"].to_numpy(),
        ramps=pairs["start_day"].to_numpy() > 0,
        promo_rate=pairs["promo_rate"].to_numpy(),
        uplift=item["uplift"].to_numpy()[i],
        dispersion=np.where(slow, 1.5, np.array([fam[f].dispersion for f in family])),
        by_weight=np.array([fam[f].by_weight for f in family]),
        return_prob=float(data.return_prob),
        promo_tracked_from=int((_day(data.promo_tracking_start, "promo_tracking_start") - start)
                               .astype(int)),
        drift=drift.from_config(data, start, n_days, [fam[f].name for f in family]),
    )
    tables = {
        "stores.csv": store[["store_nbr", "city", "state", "type", "cluster"]],
        "items.csv": item[["item_nbr", "family", "class", "perishable"]],
        "holidays_events.csv": events,
    }
    return world, tables


def _transactions(world: World, demand: np.ndarray, seed: int) -> pd.DataFrame:
    """Store traffic follows the store's expected demand; a few store-days are unrecorded."""
    rng = np.random.default_rng([seed, 3])
    n_days, n_stores = demand.shape
    ratio = rng.uniform(0.3, 0.6, n_stores)
    count = np.round(demand * ratio * np.exp(rng.normal(0, 0.05, demand.shape)))
    open_ = (np.arange(n_days)[:, None] >= world.store_open) & ~world.closed[:, None]
    keep = open_ & (count > 0) & (rng.random(demand.shape) > 0.01)
    d, s = np.nonzero(keep)
    return pd.DataFrame(
        {"date": (world.start + d).astype("datetime64[D]").astype(str),
         "store_nbr": world.store_nbr[s], "transactions": count[d, s].astype(np.int64)}
    )


def _oil(world: World, seed: int) -> pd.DataFrame:
    """WTI price on weekdays: a random walk with the odd missing quote, as in Favorita."""
    rng = np.random.default_rng([seed, 4])
    days = (world.start + np.arange(world.n_days)).astype("datetime64[D]")
    weekday = (days.astype(np.int64) + 3) % 7 < 5
    price = 60.0 * np.exp(np.cumsum(rng.normal(0, 0.018, world.n_days)))
    frame = pd.DataFrame({"date": days.astype(str), "dcoilwtico": np.round(price, 2)})[weekday]
    frame.loc[rng.random(len(frame)) < 0.03, "dcoilwtico"] = np.nan
    return frame


def _check_target(out: Path, truth: Path, force: bool) -> None:
    """Refuse to overwrite data the generator did not write: it may be a real export."""
    if force or (out / MARKER).exists():
        return
    foreign = [f for f in RAW_FILES if (out / f).exists()]
    if foreign or truth.exists():
        raise UserError(
            f"{out}/ already holds {', '.join(foreign) or truth.name} not written by the generator "
            f"(no {MARKER}); move them away, choose another paths.data, or pass force=true"
        )


def run(data, seed: int, out: Path, truth: Path, force: bool = False) -> dict:
    """Generate every raw file into ``out`` and the truth into ``truth``; return a summary."""
    began = time.perf_counter()
    world, tables = build_world(data, seed)
    _check_target(out, truth, force)
    tmp = out.parent / f".{out.name}.generating"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tmp_truth = tmp / "truth.parquet"

    truth_schema = pa.schema([("date", pa.date32()), ("store_nbr", pa.int32()),
                              ("item_nbr", pa.int32()), ("expected_demand", pa.float32()),
                              ("onpromotion", pa.bool_())])
    demand = np.zeros((world.n_days, len(world.store_nbr)))
    rows = truth_rows = plan_rows = later_rows = 0
    end = pa.scalar(dt.date.fromisoformat(str(data.end)), pa.date32())  # later days go to LATER only
    later = _later_days(data) > 0
    (tmp / LATER).parent.mkdir()
    with open(tmp / "train.csv", "wb") as sink, open(tmp / PLAN_FILE, "wb") as plan, \
            open(tmp / LATER, "wb") as later_sink, \
            pq.ParquetWriter(tmp_truth, truth_schema, compression="zstd") as truth_out:
        sink.write(TRAIN_HEADER)
        plan.write(PLAN_HEADER)
        later_sink.write(TRAIN_HEADER)
        for chunk in simulate(world, int(data.chunk_days), seed):
            published = chunk.train.filter(pc.less_equal(chunk.train["date"], end))
            rows += _write_with_ids(published, rows, sink)
            if later:  # rows come by date, so a published row has the same id in both files
                later_rows += _write_with_ids(chunk.train, later_rows, later_sink)
            plan_rows += _write_with_ids(chunk.plan.filter(pc.less_equal(chunk.plan["date"], end)),
                                         plan_rows, plan)
            truth_part = chunk.truth.filter(pc.less_equal(chunk.truth["date"], end))
            truth_out.write_table(truth_part)
            demand[chunk.first_day:chunk.first_day + len(chunk.store_demand)] = chunk.store_demand
            truth_rows += truth_part.num_rows

    tables["transactions.csv"] = _transactions(world, demand, seed)
    tables["oil.csv"] = _oil(world, seed)
    for name, frame in tables.items():
        if name in ("transactions.csv", "oil.csv"):  # later days are in no file but LATER
            frame = frame[frame["date"] <= str(data.end)]
        frame.to_csv(tmp / name, index=False, lineterminator="\n")
    summary = {"preset": str(data.name), "seed": seed, "train_rows": rows, "plan_rows": plan_rows,
               "truth_rows": truth_rows, "series": len(world.level),
               "days": world.n_days - _later_days(data), "later_rows": later_rows}
    (tmp / MARKER).write_text(json.dumps({"config": _plain(data), "seed": seed}, indent=2) + "\n")

    # Swap in only once everything is written: an interrupted run leaves the old data intact.
    out.mkdir(parents=True, exist_ok=True)
    for name in (*RAW_FILES, MARKER):
        (tmp / name).replace(out / name)
    shutil.rmtree(out / Path(LATER).parent, ignore_errors=True)  # ours: the marker or force said so
    if later:
        (tmp / Path(LATER).parent).replace(out / Path(LATER).parent)
    truth.parent.mkdir(parents=True, exist_ok=True)
    tmp_truth.replace(truth)
    shutil.rmtree(tmp)
    summary["seconds"] = round(time.perf_counter() - began, 2)
    return summary


def _write_with_ids(table: pa.Table, first_id: int, sink) -> int:
    """Append ``table`` to an open CSV with ids counting on from ``first_id``, as Favorita's;
    the number of rows written."""
    ids = pa.array(np.arange(first_id, first_id + table.num_rows, dtype=np.int64))
    pacsv.write_csv(table.add_column(0, "id", ids), sink, CSV)
    return table.num_rows


def _later_days(data) -> int:
    return int(data.get("later_days") or 0)


def _plain(node) -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(node, resolve=True)


def from_config(cfg) -> dict:
    """:func:`run` with the settings of a whole configuration (``data``, ``seed``, ``paths``)."""
    return run(cfg.data, int(cfg.seed), Path(str(cfg.paths.data)), Path(str(cfg.paths.truth)),
               force=bool(cfg.generate.force))


def describe(summary: dict, cfg) -> str:
    """The one line printed after generating."""
    return (f"generated {summary['train_rows']:,} train rows ({summary['series']:,} series x "
            f"{summary['days']:,} days, preset {summary['preset']}) into {cfg.paths.data}/ "
            f"in {summary['seconds']}s; promotion plan: {summary['plan_rows']:,} promoted days in "
            f"test.csv; truth: {summary['truth_rows']:,} rows in {cfg.paths.truth}"
            + (f"; the next export, {_later_days(cfg.data)} days later: {summary['later_rows']:,} rows in "
               f"{cfg.paths.data}/{LATER}" if summary["later_rows"] else ""))
