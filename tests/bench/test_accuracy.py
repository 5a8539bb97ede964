"""bench/accuracy.py's summary: means over the configurations, the worst one, the targets."""

import importlib

import pytest

from tests.helpers import ROOT


@pytest.fixture
def accuracy(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))  # the bench scripts import each other by name
    return importlib.import_module("accuracy")


def result(to_oracle, coverage=0.8, peer_to_oracle=1.2, bias=0.01):
    return {"wape_model_to_oracle": to_oracle, "state_aware_wape_to_oracle": 1.09,
            "wape_model_to_seasonal_naive": 0.7, "bias": bias,
            "coverage_0.80": coverage,
            "coverage_0.95": 0.95, "peer_wape_to_oracle": peer_to_oracle,
            "wape_model_to_peer": None if to_oracle is None else to_oracle / peer_to_oracle}


def test_the_mean_can_meet_its_target_while_one_configuration_misses_its_own(accuracy):
    s = accuracy.summarize({"a": result(1.08, 0.78), "b": result(1.16, 0.82, bias=-0.04), "c": result(1.10)})
    assert s["mean"]["wape_model_to_oracle"] == pytest.approx(1.1133, abs=1e-4)
    assert s["mean"]["bias"] == pytest.approx(-0.00667, abs=1e-4)
    assert s["mean"]["coverage_0.80"] == pytest.approx(0.8)
    assert s["max_wape_model_to_oracle"] == 1.16 and s["failed"] == []
    assert s["targets"]["mean_met"] and not s["targets"]["each_met"]


def test_a_failed_configuration_is_listed_and_leaves_the_targets_unmet(accuracy):
    s = accuracy.summarize({"a": result(1.05), "b": {"overrides": [], "error": "dvc repro failed"}})
    assert s["failed"] == ["b"] and s["mean"]["wape_model_to_oracle"] == 1.05
    assert not s["targets"]["mean_met"] and not s["targets"]["each_met"]


def test_without_an_oracle_the_ratio_is_undefined_not_an_error(accuracy):
    s = accuracy.summarize({"a": result(1.05), "b": result(None)})
    assert s["mean"]["wape_model_to_oracle"] is None and s["max_wape_model_to_oracle"] is None
    assert s["mean"]["coverage_0.95"] == 0.95
    assert not s["targets"]["mean_met"] and not s["targets"]["each_met"]


def test_a_trial_override_comes_last_and_wins_over_the_configuration(accuracy, tmp_path):
    """--set VALUE after the configuration's own overrides: Hydra's composition keeps the last."""
    from dvc.utils.hydra import compose_and_dump
    from omegaconf import OmegaConf

    extra = ("model.train_days=null", "evaluate.folds=2")
    args = accuracy.overrides("spring", extra)
    assert args[-2:] == list(extra) and "evaluate.folds=1" in args
    compose_and_dump(tmp_path / "params.yaml", str(ROOT / "conf"), None, "config", str(tmp_path), args)
    params = OmegaConf.load(tmp_path / "params.yaml")
    assert params.model.train_days is None and params.evaluate.folds == 2
    assert params.seed == 7 and params.data.n_items == 120
