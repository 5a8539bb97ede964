"""The monitor end to end, all real: a model trained on tiny_drift's history is packaged and
served with ``bentoml serve``; the four weeks after its history are replayed into it as
planners' daily requests (their history and planned promotions from the next export); the
service logs what it served, locally or to S3 (moto on loopback); the monitor stage reads
the logs back, scores them against the next export's sales and runs Evidently.

The same world twice (``data.drift`` changes nothing before its start): without the shift,
no alert (the false-alarm check); with it (a price shock on two families, four times the
promotions), an alert that names the shifted features and the accuracy drop.
"""

from __future__ import annotations

import csv

import pytest

from demandcast import config
from demandcast.data import generate
from demandcast.monitoring import replay
from stages import monitor
from tests.bento_server import build_bento, serving
from tests.helpers import digests, stage_workspace
from tests.monitoring import contract

pytestmark = pytest.mark.slow
SHIFTED_INPUTS = {"onpromotion", "promo_share_14"}  # the promotion policy change
SHIFTED_SALES = {"lag_1", "lag_7", "lag_14", "roll_mean_7", "roll_std_7", "roll_mean_30", "roll_std_30"}


@pytest.fixture(scope="module")
def bento(spark, drift_worlds, tmp_path_factory):
    """The champion of the shared history (train.csv), packaged as the pipeline does."""
    from demandcast.features import etl

    # 16 months of history: 13% of the training window's rows have last year's sales, too few
    # to learn the yearly features from (the features stage warns), so they are off here.
    yearly_off = "features.yearly=null"
    cfg = config.load(["data=tiny_drift", yearly_off])
    features = tmp_path_factory.mktemp("drift_features") / "features"
    manifest = etl.run(spark, str(drift_worlds["steady"]), str(features), cfg.data, cfg.features)
    root, args = stage_workspace(tmp_path_factory.mktemp("drift_serving"), drift_worlds["steady"],
                                 (features, manifest), "evaluate.folds=1", yearly_off,
                                 # a quiet season: the model beats the 28-day average by only ~3%
                                 # there; what is tested here is the monitor, not the gate
                                 "register.min_gain_vs_baseline=0", data="tiny_drift")
    return build_bento(root, args, drift_worlds["steady"])


def serve_and_replay(bento, workdir, export, **env: str) -> dict:
    """Serve the bento, ask for 28 days at each of the 28 days after its history; the server
    is stopped at the end, which flushes its prediction log."""
    with serving(bento.home, workdir, **env) as url:
        return replay.replay(url, export / generate.LATER, origins=28, every_days=1, horizon=28, batch=50)


def run_monitor(bento, export, *logs: str) -> dict:
    args = [*bento.args, "monitor=live", f"monitor.actuals={export / generate.LATER}", *logs]
    assert monitor.main(args) == 0
    return contract.check(bento.root / "reports" / "monitor.json")


def test_no_alert_without_the_shift(bento, drift_worlds, tmp_path, capsys):
    asked = serve_and_replay(bento, tmp_path, drift_worlds["steady"])
    assert asked["history_end"] == "2023-04-30" and asked["forecasts"] == 28 * asked["series"]
    logs = tmp_path / "prediction-logs"
    before = digests(logs)

    m = run_monitor(bento, drift_worlds["steady"], f"monitor.logs.dir={logs}")
    printed = capsys.readouterr().out

    assert digests(logs) == before  # nothing in the logs is modified
    live = m["live_accuracy"]
    assert live["predictions"] == 28 * 28 * asked["series"] and live["matched"] == live["predictions"]
    assert m["status"] == "ok", printed
    assert m["alerts"] == {"drift": False, "accuracy": False, "coverage": False}
    assert not m["recommendation"]["retrain"] and "no retrain needed" in m["recommendation"]["reasons"][-1]
    assert live["wape"] <= live["backtest"]["wape"] * 1.15
    assert abs(live["coverage"]["0.8"] - 0.8) <= 0.1
    assert (m["windows"]["current"]["source"], m["windows"]["current"]["bad_lines"]) == ("prediction_logs", 0)
    assert "monitor: OK" in printed


def test_the_shift_raises_the_alert_with_its_reasons(bento, drift_worlds, tmp_path, s3, bucket, capsys):
    uri = f"s3://{bucket}/served"
    serve_and_replay(bento, tmp_path, drift_worlds["shifted"], DEMANDCAST_LOG_S3=uri,
                     DEMANDCAST_LOG_S3_ENDPOINT=s3.url)
    assert not list((tmp_path / "prediction-logs").rglob("*.jsonl"))  # all of it went to S3

    m = run_monitor(bento, drift_worlds["shifted"], f"monitor.logs.s3={uri}",
                    f"monitor.logs.s3_endpoint={s3.url}")
    printed = capsys.readouterr().out

    assert m["status"] == "alert", printed
    assert m["alerts"]["drift"] and m["alerts"]["accuracy"]
    drifted = {c["column"] for c in m["drift"]["columns"] if c["drifted"]}
    assert drifted & SHIFTED_INPUTS and drifted & SHIFTED_SALES, drifted
    assert m["drift"]["target"]["drifted"]
    live = m["live_accuracy"]
    assert live["wape"] > live["backtest"]["wape"] * 1.15 and live["bias"] > 0.1  # forecasts now too high
    rec = m["recommendation"]
    assert rec["retrain"] and rec["command"] == "uv run dvc exp run -S data.end=2023-06-25"
    reasons = " ".join(rec["reasons"])
    assert "live WAPE" in reasons and "worse than the backtest" in reasons
    assert all(c in reasons for c in sorted(drifted)[:3]) or "watched features drifted" in reasons
    assert "RETRAIN" in printed and "uv run dvc exp run -S data.end=2023-06-25" in printed

    rows = list(csv.DictReader(open(bento.root / "reports" / "monitoring" / "history.csv")))
    assert rows[-1]["retrain"] == "True" and float(rows[-1]["live_wape"]) == pytest.approx(live["wape"])
    assert (bento.root / "reports" / "monitoring" / "drift.html").stat().st_size > 100_000
