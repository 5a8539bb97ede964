"""Alerts and the recommendation: drift alone explains, accuracy decides, reasons in words."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from demandcast.monitoring import decision

THRESHOLDS = OmegaConf.create({"drift_share": 0.3, "wape_tolerance": 0.15, "coverage_points": 0.10,
                               "min_matched": 200})


def drift(share: float, drifted: list[str], total: int = 10) -> dict:
    columns = [{"column": c, "stattest": "wasserstein", "score": 0.5, "threshold": 0.1, "drifted": True}
               for c in drifted]
    columns += [{"column": f"f{k}", "stattest": "wasserstein", "score": 0.01, "threshold": 0.1,
                 "drifted": False} for k in range(total - len(drifted))]
    return {"share": share, "threshold": 0.3, "alert": share >= 0.3, "columns": columns,
            "target": {"stattest": "wasserstein", "score": 0.4, "drifted": True}, "prediction": None}


def live(wape: float, coverage80: float = 0.8, matched: int = 1000, bias: float = 0.02) -> dict:
    return {"predictions": matched, "matched": matched, "wape": wape, "bias": bias,
            "by_horizon": {"1-7": {"wape": wape * 0.9, "bias": bias, "n": 300},
                           "15-28": {"wape": wape * 1.2, "bias": bias, "n": 300}},
            "coverage": {"0.8": coverage80, "0.95": 0.95},
            "backtest": {"wape": 0.5, "coverage": {"0.8": 0.8, "0.95": 0.95}}}


def verdict(d: dict, lv: dict | None, source: str = "prediction_logs") -> tuple[dict, dict]:
    flags = decision.alerts(d, lv, THRESHOLDS)
    command = "uv run dvc exp run -S data.end=2024-08-25"
    return flags, decision.recommend(d, lv, flags, THRESHOLDS, source, command)


def test_all_quiet_is_no_retrain():
    flags, rec = verdict(drift(0.1, ["lag_7"]), live(0.52))
    assert flags == {"drift": False, "accuracy": False, "coverage": False}
    assert not rec["retrain"] and "no retrain needed" in rec["reasons"][0]
    assert "0.520" in rec["reasons"][0]


def test_accuracy_loss_with_drift_retrains_and_says_why():
    flags, rec = verdict(drift(0.4, ["lag_7", "onpromotion", "roll_mean_7", "promo_share_14"]),
                         live(0.70, coverage80=0.55, bias=0.3))
    assert flags == {"drift": True, "accuracy": True, "coverage": True}
    assert rec["retrain"] and rec["command"] == "uv run dvc exp run -S data.end=2024-08-25"
    text = " | ".join(rec["reasons"])
    assert "live WAPE 0.700 is 40% worse than the backtest's 0.500 (tolerance 15%)" in text
    assert "bias +30.0% (too high)" in text and "worst 15-28 days ahead" in text
    assert "80% intervals cover 55.0% of actuals, 25.0 points off nominal" in text
    assert "4 of 10 watched features drifted" in text and "lag_7, onpromotion" in text
    assert "the target drifted too" in text and "drift explains the accuracy loss" in text


def test_drift_alone_explains_but_does_not_decide():
    flags, rec = verdict(drift(0.5, ["lag_7", "lag_14", "roll_mean_7", "roll_mean_30", "tx_mean"]),
                         live(0.53))
    assert flags["drift"] and not (flags["accuracy"] or flags["coverage"]) and not rec["retrain"]
    assert "drift alone does not call for a retrain" in rec["reasons"][-1]

    flags, rec = verdict(drift(0.5, ["lag_7"]), live(0.9, matched=50))  # too few actuals to judge
    assert not flags["accuracy"] and not rec["retrain"]
    assert "50 served forecasts have actuals yet (at least 200 needed)" in rec["reasons"][-1]

    flags, rec = verdict(drift(0.5, ["lag_7"]), None, source="data")
    assert not rec["retrain"] and "monitor=live" in rec["reasons"][-1]


@pytest.mark.parametrize(("wape", "alert"), [(0.574, False), (0.576, True)])
def test_the_wape_tolerance_is_relative_to_the_backtest(wape, alert):
    assert decision.alerts(drift(0.0, []), live(wape), THRESHOLDS)["accuracy"] is alert


def test_the_retrain_command_moves_data_end_to_the_new_export():
    assert decision.retrain_command("2024-08-25", "2024-06-30") == "uv run dvc exp run -S data.end=2024-08-25"
    assert decision.retrain_command(None, "2024-06-30") == "uv run dvc repro"
