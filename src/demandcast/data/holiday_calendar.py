"""The holiday calendar, in the schema of Favorita's ``holidays_events.csv``.

``date,type,locale,locale_name,description,transferred``: ``type`` is Holiday, Transfer,
Additional, Bridge, Event or Work Day; ``locale`` National, Regional (``locale_name`` a
state) or Local (a city); a holiday moved to another day keeps its row with
``transferred=True`` and the day it is observed gets a ``Transfer`` row.

Where the features take it from is the data preset's ``holidays.source``:

``file``
    ``holidays_events.csv`` in ``paths.data``: Favorita's own, the generator's, or yours.
``package``
    The national calendar of ``holidays.country`` (an ISO code such as ``EC`` or ``US``)
    from the `holidays` package, in ``holidays.language``, written in the same schema
    (:func:`from_package`), for data that comes without a calendar.

``holidays.named`` maps a feature name to the description of the national holiday it
tracks (``christmas: Navidad``); :func:`missing_named` finds those the calendar never has.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from demandcast.errors import UserError

FILE = "holidays_events.csv"
COLUMNS = ("date", "type", "locale", "locale_name", "description", "transferred")
SOURCES = ("file", "package")
TRANSFER_REACH = 7  # days between a holiday and the day it is observed instead, at most


def _calendar(country: str, years: Iterable[int], subdiv: str | None, language: str | None,
              observed: bool):
    import holidays as holidays_lib  # here, not at the top: the ETL on a cluster may not need it

    try:
        return holidays_lib.country_holidays(country, subdiv=subdiv, years=list(years),
                                             language=language, observed=observed)
    except NotImplementedError:
        raise UserError(f"data.holidays.country={country!r} is not a country the `holidays` package "
                        "knows; use its ISO code (e.g. EC for Ecuador, US)") from None


def package_rows(country: str, years: Iterable[int], locale: str, locale_name: str,
                 subdiv: str | None = None, language: str | None = None,
                 skip: frozenset = frozenset()) -> list[dict]:
    """Rows for one calendar of the `holidays` package; ``skip`` holds (date, description)
    pairs already written (a state's copy of a national holiday)."""
    years = list(years)
    observed = _calendar(country, years, subdiv, language, observed=True)
    actual = _calendar(country, years, subdiv, language, observed=False)
    moved: dict[tuple[dt.date, str], str] = {}  # (observed day, its name) -> the holiday's own name
    for day in sorted(observed):
        for name in observed.get_list(day):
            if name in actual.get_list(day):
                continue
            near = [n for d in _around(day) for n in actual.get_list(d) if name.startswith(n)]
            if near:  # "Christmas Day (observed)"; a holiday a state simply puts elsewhere is not
                moved[(day, name)] = max(near, key=len)
    originals = {(own, day) for (day, _), own in moved.items()}
    rows = []
    for day in sorted(observed):
        for name in observed.get_list(day):
            own = moved.get((day, name), name)
            if (day, own) in skip:
                continue
            transferred = (day, name) not in moved and any(
                own == o and abs((d - day).days) <= TRANSFER_REACH for o, d in originals)
            rows.append({"date": day, "type": "Transfer" if (day, name) in moved else "Holiday",
                         "locale": locale, "locale_name": locale_name, "description": own,
                         "transferred": transferred})
    return rows


def _around(day: dt.date) -> list[dt.date]:
    return [day + dt.timedelta(days=k) for k in range(-TRANSFER_REACH, TRANSFER_REACH + 1)]


def from_package(country: str, start: dt.date, until: dt.date, language: str | None = None) -> list[dict]:
    """The national calendar of ``country`` for ``start..until`` in Favorita's schema, one
    dict per row by date and description (plain Python: the Spark ETL on a cluster has no
    pandas)."""
    rows = package_rows(country, range(start.year, until.year + 1), "National", country,
                        language=language)
    rows = [r for r in rows if start <= r["date"] <= until]
    return sorted(rows, key=lambda r: (r["date"], r["description"]))


def source(data) -> str:
    """``data.holidays.source``, checked (``file`` when the preset has no holidays block)."""
    settings = data.get("holidays") or {}
    chosen = str(settings.get("source") or "file")
    if chosen not in SOURCES:
        raise UserError(f"data.holidays.source={chosen!r} must be one of {', '.join(SOURCES)}")
    if chosen == "package" and not settings.get("country"):
        raise UserError("data.holidays.source=package needs data.holidays.country (an ISO code, e.g. EC)")
    return chosen


def from_config(data) -> list[dict]:
    """The package calendar a ``source=package`` preset asks for, from data.start to
    data.calendar_until (dates as ``datetime.date``, ``transferred`` as bool)."""
    settings = data.holidays
    return from_package(str(settings.country), dt.date.fromisoformat(str(data.start)),
                        dt.date.fromisoformat(str(data.calendar_until)),
                        None if settings.get("language") is None else str(settings.language))


def missing_named(national_descriptions: Iterable[str], named: dict[str, str]) -> dict[str, str]:
    """The named holidays (feature -> description) whose description no national row of the
    calendar (of any type but Transfer) has."""
    present = set(national_descriptions)
    return {name: text for name, text in named.items() if text not in present}
