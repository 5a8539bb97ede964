"""Validation (the validate stage's rules): clean data passes; each kind of broken file fails with its own message."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from demandcast.data import generate, rawcsv, validation
from demandcast.errors import UserError
from tests.raw_files import (
    AS_OF,
    append_copy,
    corrupt_train,
    edit_line,
    gzip_as,
    latin1,
    map_column,
    semicolons,
    set_field,
    truncate,
    us_date,
)



def check(data_dir, data_cfg, validate_cfg, **changes) -> dict:
    return validation.run(data_dir, data_cfg, OmegaConf.merge(validate_cfg, changes))


def only_problem(report: dict) -> dict:
    assert report["status"] == "failed"
    assert len(report["problems"]) == 1, report["problems"]
    return report["problems"][0]


def test_clean_data_passes_with_a_deterministic_summary(data_dir, data_cfg, validate_cfg):
    report = check(data_dir, data_cfg, validate_cfg)
    assert report["status"] == "passed" and report["problems"] == []
    train = report["files"]["train.csv"]
    assert train["rows"] == len((data_dir / "train.csv").read_text().splitlines()) - 1
    assert (train["date_min"], train["date_max"]) == ("2022-01-01", "2022-06-30")
    assert train["stores"] == 3 and train["items"] <= 20
    assert report["files"]["stores.csv"]["rows"] == 3
    assert check(data_dir, data_cfg, validate_cfg) == report


CASES = {
    "wrong type": (corrupt_train(5, 2, "abc"), "type", "store_nbr", ["whole number", "abc"]),
    "missing value": (corrupt_train(5, 4, ""), "missing value", "unit_sales", ["line 5"]),
    "unknown store": (corrupt_train(3, 2, "999"), "unknown store", "store_nbr", ["999"]),
    "future date": (corrupt_train(4, 1, "2025-03-01"), "date in the future", "date",
                    [AS_OF, "2025-03-01"]),
    "date before history": (corrupt_train(4, 1, "2021-12-31"), "date range", "date",
                            ["2022-01-01..2022-06-30"]),
    "sales out of range": (corrupt_train(6, 4, "1e9"), "range", "unit_sales", ["[-20000"]),
    "bad promotion flag": (corrupt_train(6, 5, "yes"), "allowed values", "onpromotion",
                           ["True, False"]),
    "duplicate keys": (lambda d: append_copy(d / "train.csv", 1), "duplicate key",
                       "date, store_nbr, item_nbr", ["2 rows", "one row per"]),
    "truncated": (lambda d: truncate(d / "train.csv"), "looks truncated", None,
                  ["newline", "again"]),
    "too many fields": (lambda d: edit_line(d / "train.csv", 7, lambda s: s + ",x"),
                        "field count", None, ["line 7", "more fields"]),
    "empty file": (lambda d: (d / "items.csv").write_bytes(b""), "empty file", None,
                   ["0 bytes"]),
    "missing file": (lambda d: (d / "holidays_events.csv").unlink(), "file exists", None,
                     ["does not exist", "demandcast generate"]),
    "header only": (lambda d: (d / "transactions.csv").write_text(
        "date,store_nbr,transactions\n"), "header only", None, ["no data rows"]),
    "missing column": (lambda d: (d / "oil.csv").write_text("date,price\n2022-01-03,60.1\n"),
                       "missing column", "dcoilwtico", ["found: date, price"]),
    "not UTF-8": (lambda d: latin1(d / "stores.csv"), "encoding", None,
                  ["byte offset", "line 2", "UTF-8"]),
    "bad store type": (lambda d: edit_line(d / "stores.csv", 2, set_field(3, "F")),
                       "allowed values", "type", ["A, B, C, D, E", "'F'"]),
    "duplicate store": (lambda d: append_copy(d / "stores.csv", 1), "duplicate key",
                        "store_nbr", ["one row per store_nbr", "line 2", "line 5"]),
    "perishable not 0/1": (lambda d: edit_line(d / "items.csv", 2, set_field(3, "2")),
                           "allowed values", "perishable", ["0, 1"]),
    # Whole-file problems: one diagnosis for the file, not "correct or drop those rows".
    "semicolon separated": (lambda d: semicolons(d / "stores.csv"), "separator", None,
                            ["separated by semicolons (';')", "store_nbr, city", "with commas"]),
    "tab separated": (lambda d: (d / "items.csv").write_text(
        (d / "items.csv").read_text().replace(",", "\t")), "separator", None, ["tabs"]),
    "7-Zip only": (lambda d: (d / "oil.csv").rename(d / "oil.csv.7z"), "compressed file", None,
                   ["oil.csv.7z", "7-Zip", "7z x", "oil.csv.gz"]),
    "gzip under a .csv name": (lambda d: gzip_as(d / "oil.csv", d / "oil.csv"), "compressed file", None,
                               ["gzip-compressed", "rename it to oil.csv.gz"]),
    "US dates in every row": (lambda d: map_column(d / "transactions.csv", "date", us_date), "date format",
                              "date", ["written MM/DD/YYYY", "must be written YYYY-MM-DD", "format='%m/%d/%Y'",
                                       "'01/0"]),
    "text item ids": (lambda d: map_column(d / "train.csv", "item_nbr", lambda v: f"SKU-{v}"), "text ids",
                      "item_nbr", ["is text (e.g. 'SKU-", "whole numbers", "items.csv", ".map(codes)"]),
    "decimal store ids": (lambda d: map_column(d / "train.csv", "store_nbr", lambda v: f"{v}.0"),
                          "whole numbers", "store_nbr", ["with decimals (e.g. '1.0')", "astype('int64')"]),
    "plan names an unknown item": (lambda d: edit_line(d / "test.csv", 2, set_field(3, "424242")),
                                   "unknown item", "item_nbr", ["424242", "items.csv"]),
    "plan past the calendar": (lambda d: edit_line(d / "test.csv", 2, set_field(1, "2023-02-01")),
                               "date range", "date", ["data.calendar_until", "2023-02-01"]),
    "plan flag not True/False": (lambda d: edit_line(d / "test.csv", 3, set_field(4, "")),
                                 "missing value", "onpromotion", ["line 3"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_corruption_fails_with_its_own_clear_problem(case, data_dir, data_cfg,
                                                          validate_cfg):
    corrupt, check_name, column, phrases = CASES[case]
    corrupt(data_dir)
    problem = only_problem(check(data_dir, data_cfg, validate_cfg))
    assert (problem["check"], problem["column"]) == (check_name, column)
    text = json.dumps(problem)
    for phrase in phrases:
        assert phrase in text, (phrase, problem)
    assert problem["fix"] and problem["message"]


def test_row_count_outside_the_preset_names_it_and_how_to_fix(data_dir, data_cfg, validate_cfg):
    tight = OmegaConf.merge(data_cfg, {"rows": {"min": 10, "max": 20}})
    problem = only_problem(validation.run(data_dir, tight, validate_cfg))
    assert problem["check"] == "row count"
    assert "preset 'small'" in problem["message"] and "10..20" in problem["message"]
    assert "demandcast generate data=small" in problem["fix"]
    assert "data=<preset>" in problem["fix"] and "demo" in problem["fix"]


def test_chunks_find_duplicates_across_chunks_and_keep_line_numbers(data_dir, data_cfg,
                                                                    validate_cfg):
    train = data_dir / "train.csv"
    edit_line(train, 3, lambda s: s + ",extra")  # skipped: later line numbers must not shift
    edit_line(train, 2500, set_field(3, "x1"))
    append_copy(train, 1)
    report = check(data_dir, data_cfg, validate_cfg, chunk_rows=700, max_examples=2)
    found = {p["check"]: p for p in report["problems"]}
    assert set(found) == {"field count", "type", "duplicate key"}
    assert found["type"]["examples"] == ["line 2500: 'x1'"]
    assert found["duplicate key"]["failed_rows"] == 2
    assert report["files"]["train.csv"]["rows"] == len(train.read_text().splitlines()) - 1


def test_utf8_scan_handles_characters_split_across_blocks(tmp_path, monkeypatch):
    path = tmp_path / "x.csv"
    path.write_bytes("a,b\n1,é\n".encode() + b"2,\xff\n")
    monkeypatch.setattr(rawcsv, "BLOCK", 1)
    assert rawcsv.first_bad_utf8(path)[:2] == (11, 3)
    path.write_bytes("a,b\n1,éé\n".encode())
    assert rawcsv.first_bad_utf8(path) is None


def test_bad_setting_is_a_user_error(data_dir, data_cfg, validate_cfg):
    with pytest.raises(UserError, match="as_of"):
        check(data_dir, data_cfg, validate_cfg, as_of="someday")


def test_a_gzipped_file_is_read_as_it_is(data_dir, data_cfg, validate_cfg):
    plain = check(data_dir, data_cfg, validate_cfg)
    gzip_as(data_dir / "train.csv", data_dir / "train.csv.gz")
    packed = check(data_dir, data_cfg, validate_cfg)
    assert packed["status"] == "passed", packed["problems"]
    assert packed["files"]["train.csv"] == plain["files"]["train.csv"]


def test_a_gzipped_file_cut_off_is_still_found_truncated(data_dir, data_cfg, validate_cfg):
    truncate(data_dir / "train.csv")
    gzip_as(data_dir / "train.csv", data_dir / "train.csv.gz")
    assert only_problem(check(data_dir, data_cfg, validate_cfg))["check"] == "looks truncated"


def test_the_promotion_plan_is_optional_and_may_list_nothing(data_dir, data_cfg, validate_cfg):
    (data_dir / "test.csv").write_text("id,date,store_nbr,item_nbr,onpromotion\n")
    report = check(data_dir, data_cfg, validate_cfg)
    assert report["status"] == "passed" and report["files"]["test.csv"]["rows"] == 0
    (data_dir / "test.csv").unlink()
    report = check(data_dir, data_cfg, validate_cfg)
    assert report["status"] == "passed" and "absent" in report["files"]["test.csv"]
    assert any("test.csv is absent: no promotion plan" in n for n in report["notes"])


def test_duplicate_plan_rows_are_found(data_dir, data_cfg, validate_cfg):
    append_copy(data_dir / "test.csv", 1)
    problem = only_problem(check(data_dir, data_cfg, validate_cfg))
    assert (problem["file"], problem["check"]) == ("test.csv", "duplicate key")


def test_with_a_package_calendar_holidays_events_may_be_absent(data_dir, data_cfg, validate_cfg):
    (data_dir / "holidays_events.csv").unlink()
    missing = only_problem(check(data_dir, data_cfg, validate_cfg))
    assert missing["check"] == "file exists"
    package = OmegaConf.merge(data_cfg, {"holidays": {"source": "package", "country": "US"}})
    report = validation.run(data_dir, package, OmegaConf.merge(validate_cfg, {}))
    assert report["status"] == "passed"
    assert "from the `holidays` package" in report["files"]["holidays_events.csv"]["absent"]


def test_a_preset_whose_dates_are_out_of_order_is_a_user_error(data_dir, data_cfg, validate_cfg):
    with pytest.raises(UserError, match="data.start <= data.end <= data.calendar_until"):
        validation.run(data_dir, OmegaConf.merge(data_cfg, {"calendar_until": "2021-12-31"}), validate_cfg)
