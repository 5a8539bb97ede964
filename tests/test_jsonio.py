"""Strict JSON: what every stage writes parses with a strict parser; the reports in git do."""

from __future__ import annotations

import json

import pytest

from demandcast import jsonio
from tests.helpers import ROOT


def test_nan_and_infinity_are_refused_naming_where():
    with pytest.raises(ValueError, match=r"\$.test.wape_by_horizon.model\[1\] is NaN or infinite"):
        jsonio.dumps({"test": {"wape_by_horizon": {"model": [0.4, float("nan")]}}})
    with pytest.raises(ValueError, match="infinite"):
        jsonio.dumps({"ratio": float("inf")})


def test_keys_are_sorted_and_the_write_is_atomic(tmp_path):
    path = jsonio.write(tmp_path / "r.json", {"b": 1, "a": {"d": None, "c": 2.5}})
    assert path.read_text() == '{\n  "a": {\n    "c": 2.5,\n    "d": null\n  },\n  "b": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left behind
    with pytest.raises(ValueError):
        jsonio.write(tmp_path / "r.json", {"a": float("nan")})
    assert json.loads(path.read_text())["b"] == 1  # a failed write leaves the old file


def test_the_strict_parser_rejects_what_python_json_lets_through():
    assert jsonio.loads_strict('{"a": null}') == {"a": None}
    for text in ('{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}'):
        with pytest.raises(ValueError, match="not strict JSON"):
            jsonio.loads_strict(text)


def test_every_json_file_in_reports_is_strict_json():
    files = sorted((ROOT / "reports").rglob("*.json"))
    assert files, "reports/ holds no JSON"
    for path in files:
        jsonio.loads_strict(path.read_text())  # raises on NaN / Infinity
