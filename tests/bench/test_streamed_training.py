"""bench/streamed_training.py on the tiny features: two real train stages, the same model."""

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow


def test_in_memory_and_paged_fits_are_measured_and_the_same_model(tiny_features, tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "streamed_training.py"),
                           "--features", str(tiny_features[0]), "--data", "tiny", "--name", "tiny",
                           "-S", "model.num_boost_round=5", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    entry = json.loads(out.read_text())["tiny"]
    assert entry["same_model_bytes"] is True
    for run in (entry["in_memory"], entry["external"]):
        assert run["trees"] <= 5 and run["train_rows"] > 1000
        assert 0.1 < run["peak_rss_gb"] < 4  # a Python with XGBoost and MLflow loaded
    assert entry["in_memory"]["model_sha256"] == entry["external"]["model_sha256"]
    assert "same model bytes: True" in done.stdout


def test_a_folder_without_a_manifest_is_named(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "streamed_training.py"), "--features",
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and f"{tmp_path}: not a features stage's output" in done.stderr
