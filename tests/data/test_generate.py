"""The synthetic data: Favorita's schema, a realistic demand process, exact truth, determinism."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from demandcast.data import generate
from demandcast.errors import UserError
from tests.helpers import ROOT, digests

SCHEMAS = {
    "train.csv": ["id", "date", "store_nbr", "item_nbr", "unit_sales", "onpromotion"],
    "stores.csv": ["store_nbr", "city", "state", "type", "cluster"],
    "items.csv": ["item_nbr", "family", "class", "perishable"],
    "holidays_events.csv": ["date", "type", "locale", "locale_name", "description", "transferred"],
    "transactions.csv": ["date", "store_nbr", "transactions"],
    "oil.csv": ["date", "dcoilwtico"],
    "test.csv": ["id", "date", "store_nbr", "item_nbr", "onpromotion"],
}


@pytest.fixture(scope="module")
def world(tiny_data):
    train = pd.read_csv(tiny_data / "train.csv", parse_dates=["date"],
                        dtype={"onpromotion": "boolean"})
    truth = pd.read_parquet(tiny_data / "truth" / "expected_demand.parquet")
    truth["date"] = pd.to_datetime(truth["date"])
    keys = ["date", "store_nbr", "item_nbr"]
    full = truth.merge(train[[*keys, "unit_sales"]], on=keys, how="left", validate="1:1")
    full["unit_sales"] = full["unit_sales"].fillna(0.0)
    stores = pd.read_csv(tiny_data / "stores.csv")
    items = pd.read_csv(tiny_data / "items.csv")
    full = full.merge(stores[["store_nbr", "type"]], on="store_nbr").merge(
        items[["item_nbr", "family"]], on="item_nbr")
    return {"train": train, "truth": truth, "full": full, "stores": stores, "items": items}


def test_files_have_favoritas_columns(tiny_data):
    for name, columns in SCHEMAS.items():
        assert list(pd.read_csv(tiny_data / name, nrows=1).columns) == columns, name
    assert (tiny_data / "truth" / "expected_demand.parquet").exists()


def test_same_config_and_seed_give_identical_bytes(tmp_path, tiny_cfg, tiny_data):
    out = tmp_path / "again"
    generate.run(tiny_cfg.data, int(tiny_cfg.seed), out, out / "truth" / "expected_demand.parquet")
    assert digests(out) == digests(tiny_data)
    other = tmp_path / "other_seed"
    generate.run(tiny_cfg.data, 7, other, other / "truth" / "expected_demand.parquet")
    assert digests(other)["train.csv"] != digests(tiny_data)["train.csv"]


def test_zero_days_are_omitted_but_in_the_truth(world):
    train, truth = world["train"], world["truth"]
    assert (train["unit_sales"] != 0).all()
    assert train["id"].tolist() == list(range(len(train)))
    assert len(truth) > len(train) * 1.2  # the truth also covers the zero days
    assert not train.duplicated(["date", "store_nbr", "item_nbr"]).any()


def test_truth_is_the_mean_of_what_was_sampled(world):
    full = world["full"]
    actual, expected = full["unit_sales"].sum(), full["expected_demand"].sum()
    assert abs(actual / expected - 1) < 0.03
    # and it is informative: the oracle beats the overall mean by far
    oracle = np.abs(full["unit_sales"] - full["expected_demand"]).sum()
    flat = np.abs(full["unit_sales"] - full.groupby(["store_nbr", "item_nbr"])["unit_sales"]
                  .transform("mean")).sum()
    assert oracle < 0.9 * flat


def test_promotions_lift_demand_and_are_unrecorded_early(world, tiny_cfg):
    full, train = world["full"], world["train"]
    by_series = full.groupby(["store_nbr", "item_nbr", "onpromotion"])["expected_demand"].mean()
    lift = (by_series.xs(True, level="onpromotion") / by_series.xs(False, level="onpromotion"))
    assert lift.dropna().median() > 1.15
    early = train["date"] < pd.Timestamp(tiny_cfg.data.promo_tracking_start)
    assert train.loc[early, "onpromotion"].isna().all()
    assert train.loc[~early, "onpromotion"].notna().all()


def test_the_promotion_plan_lists_every_promoted_day_sold_or_not(world, tiny_data, tiny_cfg):
    """The plan (test.csv) is the truth's promoted series-days from the tracking start on, zero
    days included; train.csv keeps Favorita's convention (rows on days with sales only)."""
    plan = pd.read_csv(tiny_data / "test.csv", parse_dates=["date"])
    assert plan["onpromotion"].all() and plan["id"].tolist() == list(range(len(plan)))
    keys = ["date", "store_nbr", "item_nbr"]
    truth = world["truth"]
    tracked = truth["date"] >= pd.Timestamp(tiny_cfg.data.promo_tracking_start)
    expected = truth.loc[truth["onpromotion"] & tracked, keys].reset_index(drop=True)
    pd.testing.assert_frame_equal(plan[keys], expected, check_dtype=False)
    sold = plan.merge(world["train"][[*keys, "onpromotion"]], on=keys, how="left", suffixes=("", "_train"))
    assert sold["onpromotion_train"].isna().sum() > 0.1 * len(plan)  # promoted days without a sale
    assert sold["onpromotion_train"].dropna().all()  # where train.csv has the day, it agrees
    flagged = world["train"][world["train"]["onpromotion"].fillna(False).astype(bool)]
    assert len(flagged.merge(plan, on=keys)) == len(flagged)  # every promoted sale is planned


def test_holidays_move_demand_the_known_way(world):
    daily = world["full"].groupby(["date", "family"])["expected_demand"].sum().unstack()
    total = daily.sum(axis=1)
    assert total[pd.Timestamp("2023-12-25")] == 0  # stores are closed on Christmas Day
    week_before = total[pd.Timestamp("2023-11-15")]  # the Wednesday before
    assert total[pd.Timestamp("2023-11-22")] > 1.3 * week_before  # day before Thanksgiving
    assert total[pd.Timestamp("2023-11-23")] < 0.5 * week_before  # Thanksgiving itself
    assert total[pd.Timestamp("2023-12-23")] > 1.2 * total[pd.Timestamp("2023-12-09")]


def test_weekly_pattern_differs_by_store_type(world):
    full = world["full"].assign(dow=world["full"]["date"].dt.dayofweek)
    profile = full.groupby(["type", "dow"])["expected_demand"].mean().unstack()
    saturday_vs_tuesday = profile[5] / profile[1]
    assert saturday_vs_tuesday.max() - saturday_vs_tuesday.min() > 0.1


def test_latent_state_makes_recent_days_informative(world):
    full = world["full"].sort_values(["store_nbr", "item_nbr", "date"])
    full = full[(full["expected_demand"] > 0) & ~full["onpromotion"]]
    log = np.log(full["expected_demand"])
    resid = log - full.assign(log=log, dow=full["date"].dt.dayofweek).groupby(
        ["store_nbr", "item_nbr", "dow"])["log"].transform("mean")
    lagged = resid.groupby([full["store_nbr"], full["item_nbr"]]).shift(1)
    assert resid.corr(lagged) > 0.5


def test_returns_slow_movers_launches_and_discontinuations(world, tiny_cfg):
    train, full = world["train"], world["full"]
    assert (train["unit_sales"] < 0).sum() > 0
    zero_share = full.groupby(["store_nbr", "item_nbr"])["unit_sales"].apply(lambda s: (s == 0).mean())
    assert (zero_share > 0.5).any() and (zero_share < 0.1).any()
    span = full.groupby("item_nbr")["date"].agg(["min", "max"])
    assert (span["min"] > pd.Timestamp(tiny_cfg.data.start)).any()
    assert (span["max"] < pd.Timestamp(tiny_cfg.data.end)).any()
    assert (train["unit_sales"] % 1 != 0).any()  # items sold by weight


def test_holidays_file_marks_transfers(tiny_data):
    events = pd.read_csv(tiny_data / "holidays_events.csv")
    assert {"Thanksgiving Day", "Christmas Day", "New Year's Day", "Independence Day",
            "Labor Day"} <= set(events["description"])
    assert events["date"].max() >= "2024-12-01"  # the calendar is known in advance
    moved = events[events["transferred"]]
    assert not moved.empty
    for row in moved.itertuples():
        assert ((events["type"] == "Transfer") & (events["description"] == row.description)).any()


def test_refuses_to_overwrite_data_it_did_not_write(tmp_path, tiny_cfg):
    out = tmp_path / "real"
    out.mkdir()
    (out / "train.csv").write_text("id,date\n1,2017-01-01\n")
    with pytest.raises(UserError, match="not written by the generator"):
        generate.run(tiny_cfg.data, 1, out, out / "truth" / "t.parquet")
    assert (out / "train.csv").read_text() == "id,date\n1,2017-01-01\n"
    generate.run(tiny_cfg.data, 1, out, out / "truth" / "t.parquet", force=True)
    assert (out / generate.MARKER).exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [({"start": "2023-12-01"}, "spans"), ({"end": "2023-02-30"}, "not a date"),
     ({"n_stores": 0}, "n_stores"), ({"assortment": 1.5}, "assortment")],
)
def test_bad_settings_are_named(tiny_cfg, tmp_path, override, message):
    data = OmegaConf.merge(tiny_cfg.data, override)
    with pytest.raises(UserError, match=message):
        generate.run(data, 1, tmp_path / "d", tmp_path / "d" / "t.parquet")


def test_cli_reports_bad_input_without_traceback(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "demandcast", "generate", "data=tiny", "data.n_stores=0",
         f"paths.data={tmp_path}/d"], capture_output=True, text=True,
        cwd=ROOT,
    )
    assert out.returncode == 2
    assert "data.n_stores must be at least 1" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_regenerating_demo_data_matches_data_dvc(project):
    """The fallback of `make run`: regenerated data is exactly what data.dvc records."""
    repo = project("demo")
    dvc = [sys.executable, "-m", "dvc"]
    status = subprocess.run([*dvc, "status", "--json", "data.dvc"], cwd=repo,
                            capture_output=True, text=True, check=True)
    # identical to the recorded hash; only this fresh checkout's cache lacks it
    assert json.loads(status.stdout) in ({}, {"data.dvc": [{"changed outs": {"data": "not in cache"}}]})
    subprocess.run([*dvc, "commit", "--force", "data.dvc"], cwd=repo, check=True, capture_output=True)
    assert subprocess.run(["git", "diff", "--exit-code", "data.dvc"], cwd=repo).returncode == 0
    status = subprocess.run([*dvc, "status", "data.dvc"], cwd=repo, capture_output=True, text=True)
    assert "up to date" in status.stdout, status.stdout
