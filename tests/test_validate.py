"""The validate stage: clean data passes; each kind of broken file fails with its own message."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from stages import generate, rawcsv, validate
from stages.config import CONF_DIR, ROOT
from stages.errors import UserError

AS_OF = "2024-01-01"
SMALL = {"n_stores": 3, "n_items": 20, "start": "2022-01-01", "end": "2022-06-30",
         "calendar_until": "2022-12-31", "promo_tracking_start": "2022-03-01",
         "chunk_days": 30, "rows": {"min": 1000, "max": 1_000_000}}
# The same settings for main() / the CLI, which start from params.yaml.
OVERRIDES = [f"data.{k}={v}" for k, v in SMALL.items() if k in ("start", "end")] + [
    "data.rows.min=1000", "data.rows.max=1000000", f"validate.as_of={AS_OF}"]


@pytest.fixture(scope="session")
def data_cfg():
    cfg = OmegaConf.merge(OmegaConf.load(CONF_DIR / "data" / "demo.yaml"), SMALL)
    return OmegaConf.merge(cfg, {"name": "small"})


@pytest.fixture(scope="session")
def validate_cfg():
    cfg = OmegaConf.load(CONF_DIR / "config.yaml").validate
    return OmegaConf.merge(cfg, {"as_of": AS_OF})


@pytest.fixture(scope="session")
def small_data(tmp_path_factory, data_cfg) -> Path:
    """A few thousand rows in Favorita's schema, generated once; copy before changing."""
    root = tmp_path_factory.mktemp("small")
    generate.run(data_cfg, 42, root / "data", root / "truth" / "expected_demand.parquet")
    return root / "data"


@pytest.fixture
def data_dir(small_data, tmp_path) -> Path:
    """A private copy of the raw files, free to corrupt."""
    out = tmp_path / "data"
    out.mkdir()
    for name in generate.RAW_FILES:
        shutil.copy(small_data / name, out / name)
    return out


def check(data_dir, data_cfg, validate_cfg, **changes) -> dict:
    return validate.run(data_dir, data_cfg, OmegaConf.merge(validate_cfg, changes))


def only_problem(report: dict) -> dict:
    assert report["status"] == "failed"
    assert len(report["problems"]) == 1, report["problems"]
    return report["problems"][0]


def edit_line(path: Path, number: int, change) -> None:
    """Replace physical line ``number`` (1 = header) with ``change(line)``."""
    lines = path.read_text().split("\n")
    lines[number - 1] = change(lines[number - 1])
    path.write_text("\n".join(lines))


def set_field(index: int, value: str):
    return lambda line: ",".join(value if i == index else f for i, f in enumerate(line.split(",")))


def test_clean_data_passes_with_a_deterministic_summary(data_dir, data_cfg, validate_cfg):
    report = check(data_dir, data_cfg, validate_cfg)
    assert report["status"] == "passed" and report["problems"] == []
    train = report["files"]["train.csv"]
    assert train["rows"] == len((data_dir / "train.csv").read_text().splitlines()) - 1
    assert (train["date_min"], train["date_max"]) == ("2022-01-01", "2022-06-30")
    assert train["stores"] == 3 and train["items"] <= 20
    assert report["files"]["stores.csv"]["rows"] == 3
    assert check(data_dir, data_cfg, validate_cfg) == report


def corrupt_train(number: int, field: int, value: str):
    return lambda d: edit_line(d / "train.csv", number, set_field(field, value))


def truncate(path: Path) -> None:
    text = path.read_text().rstrip("\n")
    path.write_text(text[: text.rindex(",") - 2])


def append_copy(path: Path, number: int) -> None:
    """Append a copy of data row ``number`` (1 = first row after the header)."""
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, lines[number]]) + "\n")


def latin1(path: Path) -> None:
    """End line 2 with a Latin-1 'é', as a spreadsheet's default CSV export writes it."""
    lines = path.read_bytes().split(b"\n")
    lines[1] += b"\xe9"
    path.write_bytes(b"\n".join(lines))


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
                     ["does not exist", "stages.generate"]),
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
    problem = only_problem(validate.run(data_dir, tight, validate_cfg))
    assert problem["check"] == "row count"
    assert "preset 'small'" in problem["message"] and "10..20" in problem["message"]
    assert "python -m stages.generate data=small" in problem["fix"]
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


def test_main_writes_the_report_and_prints_one_line(small_data, tmp_path, capsys):
    reports = tmp_path / "reports"
    argv = [f"paths.data={small_data}", f"paths.reports={reports}", *OVERRIDES]
    assert validate.main(argv) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("validated 6 files") and "\n" not in out
    first = (reports / "validation.json").read_bytes()
    assert json.loads(first)["status"] == "passed"
    validate.main(argv)
    assert (reports / "validation.json").read_bytes() == first  # no timestamps: DVC-stable


def test_main_fails_with_a_summary_not_a_traceback(data_dir, tmp_path, capsys):
    corrupt_train(5, 2, "abc")(data_dir)
    reports = tmp_path / "reports"
    code = validate.main([f"paths.data={data_dir}", f"paths.reports={reports}", *OVERRIDES])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert "train.csv [store_nbr] type" in err and "line 5: 'abc'" in err and "fix:" in err
    assert json.loads((reports / "validation.json").read_text())["status"] == "failed"


def test_bad_setting_is_a_user_error(data_dir, data_cfg, validate_cfg, capsys):
    with pytest.raises(UserError, match="as_of"):
        check(data_dir, data_cfg, validate_cfg, as_of="someday")
    assert validate.main([f"paths.data={data_dir}", "validate.as_of=someday"]) == 2
    assert "validate.as_of" in capsys.readouterr().err


@pytest.mark.parametrize(("corrupt", "expected"), [
    (lambda d: (d / "items.csv").write_bytes(b""), "items.csv empty file"),
    (lambda d: truncate(d / "train.csv"), "train.csv looks truncated"),
])
def test_cli_exits_non_zero_with_the_message_on_stderr(corrupt, expected, data_dir, tmp_path):
    corrupt(data_dir)
    reports = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "stages.validate", f"paths.data={data_dir}",
         f"paths.reports={reports}", *OVERRIDES],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert expected in done.stderr and "fix:" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert json.loads((reports / "validation.json").read_text())["status"] == "failed"
