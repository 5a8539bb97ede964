"""bench/ceiling.py: the state-aware forecast, from the generator's own latent state."""

import datetime as dt
import importlib

import numpy as np
import pandas as pd
import pytest

from tests.helpers import ROOT


@pytest.fixture
def ceiling(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    return importlib.import_module("ceiling")


@pytest.fixture(scope="module")
def window(tiny_cfg, tiny_data):
    """The tiny data's last 28 days as scored cells: truth (the oracle), sales, days ahead."""
    end = dt.date.fromisoformat(str(tiny_cfg.data.end))
    origin = end - dt.timedelta(days=28)
    truth = pd.read_parquet(tiny_data / "truth" / "expected_demand.parquet")
    truth["date"] = pd.to_datetime(truth["date"])
    cells = truth[truth["date"] > pd.Timestamp(origin)].rename(columns={"expected_demand": "oracle"})
    sales = pd.read_csv(tiny_data / "train.csv", parse_dates=["date"])
    cells = cells.merge(sales[["date", "store_nbr", "item_nbr", "unit_sales"]], how="left",
                        on=["date", "store_nbr", "item_nbr"]).fillna({"unit_sales": 0.0})
    cells["horizon"] = (cells["date"] - pd.Timestamp(origin)).dt.days
    return cells.reset_index(drop=True), origin


def test_it_knows_the_state_on_the_origin_so_it_is_closest_to_the_truth_on_the_next_day(ceiling, window,
                                                                                        tiny_cfg):
    cells, origin = window
    cells = cells.assign(forecast=ceiling.state_aware(cells, tiny_cfg, origin))
    trading = cells[cells["oracle"] > 0]
    gap = np.log(trading["forecast"] / trading["oracle"]) ** 2
    # One day's shock apart on day 1 (1 - phi^2 of the state's variance, phi 0.75..0.95); about
    # the whole variance by day 28. A series matched to another's state would be ~2x it on both.
    assert gap[trading["horizon"] == 1].mean() < 0.5 * gap[trading["horizon"] == 28].mean()


def test_it_sits_between_the_oracle_and_a_forecast_without_the_state(ceiling, window, tiny_cfg):
    cells, origin = window
    forecast = ceiling.state_aware(cells, tiny_cfg, origin)
    wape = lambda f: np.abs(cells["unit_sales"] - f).sum() / np.abs(cells["unit_sales"]).sum()  # noqa: E731
    assert wape(cells["oracle"]) < wape(forecast)
    closed = cells.groupby("date")["oracle"].transform("sum") == 0  # Christmas Day: every store shut
    assert closed.any() and (forecast[closed.to_numpy()] == 0).all()


def test_a_series_the_generator_does_not_make_is_refused(ceiling, window, tiny_cfg):
    cells, origin = window
    stranger = cells.head(3).assign(item_nbr=-1)
    with pytest.raises(ValueError, match="does not make"):
        ceiling.state_aware(stranger, tiny_cfg, origin)
