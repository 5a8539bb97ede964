"""The holiday calendar from the `holidays` package, in Favorita's schema; the preset's choice."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from omegaconf import OmegaConf

from demandcast.data import holiday_calendar
from demandcast.errors import UserError
from tests.helpers import ROOT


def test_ecuador_in_spanish_with_favoritas_transfer_convention():
    cal = pd.DataFrame(holiday_calendar.from_package("EC", dt.date(2017, 1, 1), dt.date(2017, 12, 31), "es"),
                       columns=list(holiday_calendar.COLUMNS))
    assert list(cal.columns) == list(holiday_calendar.COLUMNS)
    assert {"Navidad", "Carnaval", "Viernes Santo", "Primer Grito de Independencia"} <= set(cal["description"])
    # 2017-08-10 fell on a Thursday and was observed on Friday the 11th: the holiday keeps its
    # row, transferred, and the day off is a Transfer row, as in Favorita's file.
    grito = cal[cal["description"] == "Primer Grito de Independencia"].set_index("date")
    assert grito.loc[dt.date(2017, 8, 10), "transferred"]
    assert grito.loc[dt.date(2017, 8, 11), "type"] == "Transfer"
    assert (cal["locale"] == "National").all() and cal["date"].between(dt.date(2017, 1, 1),
                                                                        dt.date(2017, 12, 31)).all()


def test_missing_named_holidays_are_found():
    named = {"christmas": "Christmas Day", "carnaval": "Carnaval"}
    assert holiday_calendar.missing_named(["Navidad", "Carnaval"], named) == {"christmas": "Christmas Day"}


def test_the_source_is_checked():
    assert holiday_calendar.source(OmegaConf.create({})) == "file"
    with pytest.raises(UserError, match="must be one of file, package"):
        holiday_calendar.source(OmegaConf.create({"holidays": {"source": "web"}}))
    with pytest.raises(UserError, match="needs data.holidays.country"):
        holiday_calendar.source(OmegaConf.create({"holidays": {"source": "package"}}))
    with pytest.raises(UserError, match="not a country"):
        holiday_calendar.from_package("XX", dt.date(2017, 1, 1), dt.date(2017, 2, 1))


def test_the_favorita_preset_tracks_favoritas_spanish_descriptions():
    preset = OmegaConf.load(ROOT / "conf" / "data" / "favorita.yaml")
    assert preset.holidays.country == "EC" and preset.holidays.source == "file"
    assert preset.holidays.named.christmas == "Navidad"
    assert preset.holidays.named.new_year == "Primer dia del ano"
