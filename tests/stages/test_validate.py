"""The validate stage's entry point: the report it writes, its exit status and its messages."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stages import validate
from tests.helpers import ROOT
from tests.raw_files import OVERRIDES, corrupt_train, truncate


def test_main_writes_the_report_and_prints_one_line(small_data, tmp_path, capsys):
    reports = tmp_path / "reports"
    argv = [f"paths.data={small_data}", f"paths.reports={reports}", *OVERRIDES]
    assert validate.main(argv) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("validated 7 files") and "\n" not in out
    first = (reports / "validation.json").read_bytes()
    assert json.loads(first)["status"] == "passed"
    validate.main(argv)
    assert (reports / "validation.json").read_bytes() == first  # no timestamps: DVC-stable


def test_main_fails_with_a_summary_not_a_traceback(data_dir, tmp_path, capsys):
    """A failure keeps the last passing report (committed, tracked by DVC) as it was and puts
    its own next to it, in a file git ignores; the next pass removes that one."""
    reports = tmp_path / "reports"
    argv = [f"paths.data={data_dir}", f"paths.reports={reports}", *OVERRIDES]
    assert validate.main(argv) == 0
    passed = (reports / "validation.json").read_bytes()
    corrupt_train(5, 2, "abc")(data_dir)
    code = validate.main(argv)
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert "train.csv [store_nbr] type" in err and "line 5: 'abc'" in err and "fix:" in err
    assert "details in " + str(reports / "validation_failed.json") in err
    assert (reports / "validation.json").read_bytes() == passed
    assert json.loads((reports / "validation_failed.json").read_text())["status"] == "failed"
    corrupt_train(5, 2, "1")(data_dir)
    assert validate.main(argv) == 0 and not (reports / "validation_failed.json").exists()


def test_bad_setting_is_a_user_error(data_dir, capsys):
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
    assert json.loads((reports / "validation_failed.json").read_text())["status"] == "failed"
