"""The calendar of the synthetic world: US holidays and events, and their effect on demand.

Holidays come from the ``holidays`` package (:func:`demandcast.data.holiday_calendar.package_rows`).
``holidays_events.csv`` follows Favorita's
conventions: a holiday moved to another day keeps its row with ``transferred=True`` and the
day it is actually observed gets a row of type ``Transfer``; state holidays are ``Regional``
with the state as ``locale_name``; shopping days are ``Event`` or ``Additional``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from demandcast.data.holiday_calendar import package_rows

COUNTRY = "United States"
LANGUAGE = "en_US"

# Families are grouped by how shoppers treat them around holidays.
GROUPS = ("food", "fresh", "drink", "nonfood")

# Log-effects on demand around each holiday: offset from the holiday's own date -> effect
# per group (a scalar applies to every group). Offsets before 0 are the run-up, after 0
# the hangover. Christmas Day is a closed day, handled separately.
PROFILES: dict[str, dict[int, float | dict[str, float]]] = {
    "Thanksgiving Day": {
        -3: {"food": 0.20, "fresh": 0.30, "drink": 0.10, "nonfood": 0.0},
        -2: {"food": 0.35, "fresh": 0.50, "drink": 0.20, "nonfood": 0.05},
        -1: {"food": 0.50, "fresh": 0.70, "drink": 0.35, "nonfood": 0.05},
        0: -1.2,
        1: {"food": -0.10, "fresh": -0.20, "drink": 0.0, "nonfood": 0.45},  # Black Friday
        2: {"food": -0.05, "fresh": -0.10, "drink": 0.0, "nonfood": 0.20},
    },
    "Christmas Day": {
        -7: 0.10, -6: 0.12, -5: 0.15, -4: 0.20, -3: 0.25, -2: 0.30,
        -1: {"food": 0.50, "fresh": 0.60, "drink": 0.55, "nonfood": 0.30},
        1: -0.30, 2: -0.10, 3: -0.05,
    },
    "New Year's Day": {
        -1: {"food": 0.20, "fresh": 0.25, "drink": 0.60, "nonfood": 0.0},
        0: -0.80,
        1: -0.15,
    },
    "Independence Day": {
        -2: {"food": 0.15, "fresh": 0.25, "drink": 0.30, "nonfood": 0.05},
        -1: {"food": 0.25, "fresh": 0.45, "drink": 0.50, "nonfood": 0.05},
        0: -0.30,
        1: -0.10,
    },
    "Labor Day": {
        -3: {"food": 0.05, "fresh": 0.15, "drink": 0.20, "nonfood": 0.0},
        -2: {"food": 0.08, "fresh": 0.20, "drink": 0.25, "nonfood": 0.0},
        -1: {"food": 0.05, "fresh": 0.10, "drink": 0.15, "nonfood": 0.0},
        0: -0.15,
    },
    "Memorial Day": {
        -3: {"food": 0.05, "fresh": 0.15, "drink": 0.20, "nonfood": 0.0},
        -2: {"food": 0.08, "fresh": 0.20, "drink": 0.25, "nonfood": 0.0},
        -1: {"food": 0.05, "fresh": 0.10, "drink": 0.15, "nonfood": 0.0},
        0: -0.15,
    },
    "Valentine's Day": {0: {"food": 0.0, "fresh": 0.05, "drink": 0.15, "nonfood": 0.10}},
    "Mother's Day": {-1: {"food": 0.05, "fresh": 0.10, "drink": 0.05, "nonfood": 0.15}},
    "Cyber Monday": {0: {"food": 0.0, "fresh": 0.0, "drink": 0.0, "nonfood": 0.10}},
    "Christmas Eve": {},
    "New Year's Eve": {},
}
MINOR_HOLIDAY_EFFECT = 0.04  # any other federal holiday: a quiet long-weekend lift
CLOSED_HOLIDAYS = ("Christmas Day",)


def _events(year: int) -> list[tuple[dt.date, str, str]]:
    """Shopping days that are not public holidays: (date, type, description)."""
    thanksgiving = dt.date(year, 11, 22 + (3 - dt.date(year, 11, 22).weekday()) % 7)
    may1 = dt.date(year, 5, 1)
    mothers_day = may1 + dt.timedelta(days=(6 - may1.weekday()) % 7 + 7)
    return [
        (dt.date(year, 2, 14), "Event", "Valentine's Day"),
        (mothers_day, "Event", "Mother's Day"),
        (thanksgiving + dt.timedelta(days=1), "Event", "Black Friday"),
        (thanksgiving + dt.timedelta(days=4), "Event", "Cyber Monday"),
        (dt.date(year, 12, 24), "Additional", "Christmas Eve"),
        (dt.date(year, 12, 31), "Additional", "New Year's Eve"),
    ]


def holidays_events(start: dt.date, until: dt.date, states: list[str]) -> pd.DataFrame:
    """``holidays_events.csv`` for ``start..until``: national, state and event days."""
    years = range(start.year, until.year + 1)
    rows = package_rows("US", years, "National", COUNTRY, language=LANGUAGE)
    national_days = frozenset((r["date"], r["description"]) for r in rows)
    for state in sorted(set(states)):
        rows += package_rows("US", years, "Regional", state, subdiv=state, language=LANGUAGE,
                             skip=national_days)
    for year in years:
        rows += [
            {"date": d, "type": t, "locale": "National", "locale_name": COUNTRY,
             "description": desc, "transferred": False}
            for d, t, desc in _events(year)
        ]
    frame = pd.DataFrame(rows)
    frame = frame[(frame["date"] >= start) & (frame["date"] <= until)]
    frame = frame.drop_duplicates(["date", "locale_name", "description"])
    return frame.sort_values(["date", "locale", "locale_name", "description"]).reset_index(drop=True)


def holiday_effects(events: pd.DataFrame, dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Log-effect per (group, day) from national holidays and events, and a closed-day mask.

    Effects follow the day a holiday falls on (people celebrate the 4th of July on the 4th),
    not the day it is observed off work.
    """
    index = {d: i for i, d in enumerate(dates.date)}
    effect = np.zeros((len(GROUPS), len(dates)))
    closed = np.zeros(len(dates), dtype=bool)
    national = events[(events["locale"] == "National") & (events["type"] != "Transfer")]
    for day, name, kind in national[["date", "description", "type"]].itertuples(index=False):
        profile = PROFILES.get(name)
        if profile is None:
            profile = {0: MINOR_HOLIDAY_EFFECT} if kind == "Holiday" else {}
        for offset, value in profile.items():
            i = index.get(day + dt.timedelta(days=offset))
            if i is None:
                continue
            if isinstance(value, dict):
                effect[:, i] += [value[g] for g in GROUPS]
            else:
                effect[:, i] += value
        if name in CLOSED_HOLIDAYS and day in index:
            closed[index[day]] = True
    return effect, closed
