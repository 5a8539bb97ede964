"""The drift scenario and the next export: a demand shift that leaves every earlier day as it
was, and later/train.csv that continues train.csv row for row."""

from __future__ import annotations

import pandas as pd
import pytest
from omegaconf import OmegaConf

from demandcast import config
from demandcast.data import generate
from demandcast.errors import UserError
from tests.helpers import digests


@pytest.fixture(scope="module")
def worlds(drift_worlds):
    return {**drift_worlds, "cfg": config.load(["data=tiny_drift"])}


def read(path) -> pd.DataFrame:
    return pd.read_csv(path, parse_dates=["date"], dtype={"onpromotion": "boolean"})


def test_the_history_is_the_same_with_or_without_the_shift(worlds):
    shifted, steady = digests(worlds["shifted"]), digests(worlds["steady"])
    for name in [*generate.RAW_FILES, "truth/expected_demand.parquet"]:
        assert shifted[name] == steady[name], name
    assert shifted["later/train.csv"] != steady["later/train.csv"]


def test_the_next_export_continues_train_csv_past_data_end(worlds):
    end = pd.Timestamp(worlds["cfg"].data.end)
    train, later = read(worlds["steady"] / "train.csv"), read(worlds["steady"] / generate.LATER)
    assert train["date"].max() == end
    assert later["date"].max() == end + pd.Timedelta(days=int(worlds["cfg"].data.later_days))
    assert later.iloc[:len(train)].equals(train)  # same rows, same ids
    for name in ("transactions.csv", "oil.csv"):
        assert pd.read_csv(worlds["steady"] / name)["date"].max() <= str(end.date())
    truth = pd.read_parquet(worlds["steady"] / "truth" / "expected_demand.parquet")
    assert pd.to_datetime(truth["date"]).max() == end


def test_the_shift_hits_the_named_families_and_the_promotions(worlds):
    cfg = worlds["cfg"].data.drift
    items = pd.read_csv(worlds["steady"] / "items.csv")[["item_nbr", "family"]]
    after = {}
    for name in ("shifted", "steady"):
        rows = read(worlds[name] / generate.LATER).merge(items, on="item_nbr")
        after[name] = rows[rows["date"] >= pd.Timestamp(cfg.start)]
    hit = {name: rows[rows["family"].isin(cfg.families)]["unit_sales"].sum() for name, rows in after.items()}
    rest = {name: rows[~rows["family"].isin(cfg.families)]["unit_sales"].sum() for name, rows in after.items()}
    promo = {name: rows["onpromotion"].mean() for name, rows in after.items()}
    assert 0.4 < hit["shifted"] / hit["steady"] < 0.6  # demand_factor 0.5
    assert 0.85 < rest["shifted"] / rest["steady"] < 1.2
    assert promo["shifted"] > 2.5 * promo["steady"]  # promo_rate_factor 4


@pytest.mark.parametrize(("override", "message"), [
    ({"drift": {"start": "2023-05-02"}}, r"must start a generated chunk .* use 2023-05-01 or 2023-08-06"),
    ({"drift": {"families": ["CANDY"]}}, r"\['CANDY'\] carried by no store"),
    ({"drift": {"start": "2024-06-01"}}, "within the generated days"),
    ({"drift": {"demand_factor": 0}}, "demand_factor must be > 0"),
    ({"later_days": 700}, "must be >= 0 and end by data.calendar_until"),
])
def test_bad_drift_settings_are_named(worlds, tmp_path, override, message):
    data = OmegaConf.merge(worlds["cfg"].data, override)
    with pytest.raises(UserError, match=message):
        generate.run(data, 42, tmp_path / "d", tmp_path / "d" / "t.parquet")
