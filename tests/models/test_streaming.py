"""The feature table a file at a time (model.engine=streamed) against the in-memory route."""

from __future__ import annotations

import tempfile

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from omegaconf import OmegaConf

from demandcast.errors import UserError
from demandcast.features.feature_spec import series_key
from demandcast.models import boosting, dataset, streaming

DAY = pd.Timedelta(days=1)


def test_a_window_read_a_file_at_a_time_is_the_in_memory_window(tiny_model):
    m = tiny_model
    first, last = m.fold.valid_start - 40 * DAY, m.fold.origin
    read = streaming.load(m.features, m.spec, first, last)
    expected = dataset.between(m.table, first, last).reset_index(drop=True)
    pd.testing.assert_frame_equal(read, expected[list(read.columns)], check_dtype=True)
    assert list(read.columns) == list(m.table.columns)


def test_batches_are_months_in_order_and_only_the_windows_files_are_read(tiny_model):
    m = tiny_model
    first, last = pd.Timestamp("2023-03-20"), pd.Timestamp("2023-05-02")
    parts = list(streaming.batches(m.features, m.spec, first, last, columns=[]))
    keys_only = ["store_nbr", "item_nbr", "date", "unit_sales"]
    assert all(list(p.columns) == keys_only for p in parts)  # columns=[]: no feature
    months = [sorted(set(p["date"].dt.strftime("%Y-%m"))) for p in parts]
    assert months == [["2023-03"], ["2023-04"], ["2023-05"]]  # one month file per batch, in order
    for part in parts:
        assert part.equals(part.sort_values(["store_nbr", "item_nbr", "date"]).reset_index(drop=True))
    assert parts[0]["date"].min() == first and parts[-1]["date"].max() == last
    table = streaming.open_table(m.features, m.spec)
    opened = list(table.get_fragments(filter=streaming._where(table, first, last, None)))
    assert len(opened) == 3 < len(list(table.get_fragments()))


def test_a_month_bigger_than_a_batch_comes_in_batches_in_file_order(tiny_model, monkeypatch):
    m = tiny_model
    first, last = pd.Timestamp("2023-03-20"), pd.Timestamp("2023-05-02")
    whole = list(streaming.batches(m.features, m.spec, first, last))
    monkeypatch.setattr(streaming, "BATCH_ROWS", 100)
    small = list(streaming.batches(m.features, m.spec, first, last))
    assert len(small) > len(whole) and max(len(p) for p in small) <= 100
    assert all(p["date"].dt.strftime("%Y-%m").nunique() == 1 for p in small)  # never two files
    pd.testing.assert_frame_equal(pd.concat(small, ignore_index=True), pd.concat(whole, ignore_index=True))


def test_a_sample_of_series_is_seeded_and_complete(tiny_model):
    m = tiny_model
    chosen = streaming.sample_series(m.features, m.spec, m.fold, 0.3, seed=7)
    assert np.array_equal(chosen, streaming.sample_series(m.features, m.spec, m.fold, 0.3, seed=7))
    assert not np.array_equal(chosen, streaming.sample_series(m.features, m.spec, m.fold, 0.3, seed=8))
    recent = dataset.between(m.table, m.fold.valid_start, m.fold.origin)
    every = np.unique(series_key(recent["store_nbr"], recent["item_nbr"]))
    assert len(chosen) == round(0.3 * len(every)) and np.isin(chosen, every).all()
    rows = streaming.load(m.features, m.spec, m.fold.train_start, m.fold.origin, series=chosen)
    keys = series_key(m.table["store_nbr"], m.table["item_nbr"])
    expected = dataset.between(m.table[np.isin(keys, chosen)], m.fold.train_start, m.fold.origin)
    pd.testing.assert_frame_equal(rows, expected.reset_index(drop=True))
    for bad in (1.5, 0, "abc", None):
        with pytest.raises(UserError, match=rf"tune.series_share={bad!r}: a share of the series in \(0, 1\]"):
            streaming.sample_series(m.features, m.spec, m.fold, bad, seed=7)


def test_priors_from_sums_per_file_are_the_in_memory_priors(tiny_model):
    m = tiny_model
    cutoff = m.fold.valid_start - 29 * DAY  # an earlier fold's: not the table's own prior_* columns
    streamed = streaming.priors_until(m.features, m.spec, cutoff, m.online.families)
    expected = dataset.priors_until(m.table, cutoff, m.spec, m.online.families)
    assert set(streamed) == set(expected) == set(m.spec.priors)
    for level, frame in expected.items():
        got = streamed[level].merge(frame, on=list(frame.columns[:-1]), suffixes=("", "_memory"))
        assert len(got) == len(frame) == len(streamed[level])
        np.testing.assert_allclose(got[f"prior_{level}"], got[f"prior_{level}_memory"], rtol=1e-12)


def test_a_streamed_fit_sees_the_same_rows_and_is_as_accurate(tiny_model):
    m = tiny_model
    model_cfg = OmegaConf.merge(m.cfg.model, {"train_days": None})
    seed = int(m.cfg.seed)
    fitted = streaming.fit(m.features, m.spec, m.fold, model_cfg, seed=seed)
    again = streaming.fit(m.features, m.spec, m.fold, model_cfg, seed=seed)
    assert bytes(fitted.booster.save_raw("json")) == bytes(again.booster.save_raw("json"))
    assert (fitted.train_rows, fitted.valid_rows) == (len(m.train), len(m.valid))
    assert fitted.booster.feature_names == m.spec.names() and list(fitted.example.columns) == m.spec.names()
    local = boosting.fit(m.train, m.valid, m.spec.names(), m.spec.target, model_cfg, seed=seed)
    # Rows in month order sketch other bins and subsample other rows: not the same trees, the
    # same quality (within 10% on ~1,400 validation rows; they differ by 5% here).
    assert abs(fitted.booster.best_score - local.best_score) <= 0.10 * local.best_score
    streamed = boosting.Forecaster.from_fit(fitted.booster, m.spec.names(), model_cfg).predict(m.valid)
    memory = boosting.Forecaster.from_fit(local, m.spec.names(), model_cfg).predict(m.valid)
    assert np.corrcoef(streamed, memory)[0, 1] > 0.97


def test_external_memory_pages_the_matrix_to_disk_and_fits_the_same_model(tiny_model, tmp_path, monkeypatch):
    m = tiny_model
    seed = int(m.cfg.seed)
    in_memory = streaming.fit(m.features, m.spec, m.fold, m.cfg.model, seed=seed)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen: list[list[str]] = []

    class Pages(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log) -> bool:
            if epoch == 0:
                seen.append(sorted(p.name for p in tmp_path.glob("demandcast-xgb-*/*")))
            return False

    paged = streaming.fit(m.features, m.spec, m.fold, OmegaConf.merge(m.cfg.model, {"external_memory": True}),
                          seed=seed, callbacks=[Pages()])
    assert seen and any(name.endswith(".page") for name in seen[0])  # trained from pages on disk
    assert list(tmp_path.iterdir()) == []  # and the pages are gone afterwards
    assert bytes(paged.booster.save_raw("json")) == bytes(in_memory.booster.save_raw("json"))
    assert (paged.train_rows, paged.valid_rows) == (in_memory.train_rows, in_memory.valid_rows)


def test_an_empty_window_is_named(tiny_model):
    m = tiny_model
    a_year = OmegaConf.merge(m.cfg.model, {"train_days": 365})  # all history would reach the data
    late = dataset.fold("2030-01-31", m.spec, a_year, 28)
    with pytest.raises(UserError, match="empty training window: the data is too short"):
        streaming.fit(m.features, m.spec, late, a_year)
