"""The README's "Your own data" messages are what the code says for those mistakes."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pandas as pd
import pytest
from omegaconf import OmegaConf

from demandcast.data import validation
from demandcast.errors import UserError
from demandcast.models import scoring
from tests.helpers import ROOT
from tests.raw_files import latin1, map_column, semicolons, us_date


def readme_messages() -> dict[str, list[str]]:
    """mistake -> the backticked snippets of its message, from the README's table."""
    text = (ROOT / "README.md").read_text()
    table = text.split("<!-- messages:", 1)[1].split("<!-- /messages -->", 1)[0]
    rows = [line.split("|")[1:3] for line in table.splitlines()
            if line.startswith("| ") and "---" not in line]
    return {mistake.strip(): re.findall(r"`([^`]+)`", said) for mistake, said in rows[1:]}


def validation_text(data_dir, data_cfg, validate_cfg) -> str:
    report = validation.run(data_dir, data_cfg, validate_cfg)
    assert report["status"] == "failed"
    return "\n".join(json.dumps(p, ensure_ascii=False) for p in report["problems"]).replace("\\\\", "\\")


CORRUPT = {
    "Kaggle's `.7z` files not extracted": lambda d: (d / "train.csv").rename(d / "train.csv.7z"),
    "a file saved with semicolons": lambda d: semicolons(d / "train.csv"),
    "dates exported as `MM/DD/YYYY`": lambda d: map_column(d / "train.csv", "date", us_date),
    "product codes as item ids": lambda d: map_column(d / "train.csv", "item_nbr", lambda v: f"SKU-{v}"),
    "a file saved as Latin-1": lambda d: latin1(d / "train.csv"),
}


def test_the_table_lists_every_mistake_the_tests_check():
    assert set(readme_messages()) == {*CORRUPT, "the wrong preset", "the demo's truth left in `data/`",
                                      "named holidays in another language"}


@pytest.mark.parametrize("mistake", list(CORRUPT))
def test_each_file_mistake_gets_the_message_the_readme_quotes(mistake, data_dir, data_cfg, validate_cfg):
    CORRUPT[mistake](data_dir)
    said = validation_text(data_dir, data_cfg, validate_cfg)
    for snippet in readme_messages()[mistake]:
        assert snippet in said, (snippet, said)


def test_the_wrong_preset(data_dir, validate_cfg):
    favorita = OmegaConf.merge(OmegaConf.load(ROOT / "conf" / "data" / "favorita.yaml"),
                               {"start": "2022-01-01", "end": "2022-06-30", "calendar_until": "2022-12-31"})
    said = validation_text(data_dir, favorita, validate_cfg)
    for snippet in readme_messages()["the wrong preset"]:
        assert snippet in said


def test_a_truth_of_other_data_is_refused():
    days = pd.date_range("2023-01-01", "2023-03-01")
    table = pd.DataFrame({"store_nbr": 1, "item_nbr": 10, "date": days, "unit_sales": 1.0})
    truth = pd.DataFrame({"store_nbr": 2, "item_nbr": 20, "date": days, "expected_demand": 1.0})
    spec = SimpleNamespace(history_days=30, target="unit_sales")
    with pytest.raises(UserError) as caught:
        scoring.grid(table, truth, None, spec, pd.Timestamp("2023-02-01"), 28)
    for snippet in readme_messages()["the demo's truth left in `data/`"]:
        assert snippet in str(caught.value)
    cells, _ = scoring.grid(table, None, None, spec, pd.Timestamp("2023-02-01"), 28)
    assert len(cells) == 28  # without truth: every day of the one series


def test_named_holidays_in_another_language(spark, tiny_cfg):
    from demandcast.features import checks, feature_spec, spark_engine
    from tests.features.test_checks import SPANISH
    from tests.features.test_spark_engine import D, raw_frames, sales

    spec = feature_spec.from_config(tiny_cfg.features)
    raw = raw_frames(spark, sales(1, 10, D(2023, 1, 1), list(range(1, 41))), SPANISH)
    table, _ = spark_engine.build(raw, spec, "2023-01-20", "2023-01-01", "2023-02-09")
    report = checks.report(table, raw["holidays_events.csv"], spec, "2023-01-20", "file")
    printed = "\n".join(f"warning: features: {w}" for w in report["warnings"])  # as stages/features prints
    for snippet in readme_messages()["named holidays in another language"]:
        assert snippet in printed
