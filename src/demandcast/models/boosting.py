"""XGBoost for daily unit sales: objectives, fitting, prediction, saving (JSON, no pickle)."""

from __future__ import annotations

import ctypes
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from demandcast.errors import UserError

# name in conf/model -> (XGBoost objective, eval metric, target transform)
OBJECTIVES = {
    "tweedie": ("reg:tweedie", "rmse", None),
    "poisson": ("count:poisson", "rmse", None),
    "log1p": ("reg:squarederror", "rmse", "log1p"),
}
MODEL_FILE = "model.json"


def objective(model_cfg) -> tuple[str, str, str | None]:
    name = str(model_cfg.objective)
    if name not in OBJECTIVES:
        raise UserError(f"model.objective={name!r} is not one of {sorted(OBJECTIVES)}")
    return OBJECTIVES[name]


def booster_params(model_cfg, overrides: dict | None = None, seed: int = 0) -> dict:
    xgb_objective, metric, _ = objective(model_cfg)
    params = {**dict(model_cfg.params), **(overrides or {})}
    params.update(objective=xgb_objective, eval_metric=metric, seed=int(seed))
    if xgb_objective == "reg:tweedie":
        params["tweedie_variance_power"] = float(model_cfg.tweedie_variance_power)
    return params


def label(y: pd.Series | np.ndarray, model_cfg) -> np.ndarray:
    """The training label: returns (negative sales) count as zero demand."""
    y = np.clip(np.asarray(y, dtype=np.float64), 0.0, None)
    return np.log1p(y) if objective(model_cfg)[2] == "log1p" else y


def matrix(frame: pd.DataFrame, names: list[str], y=None) -> xgb.DMatrix:
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise UserError(f"features missing from the model input: {missing}")
    return xgb.DMatrix(frame[names].to_numpy(np.float32), label=y, feature_names=names, missing=np.nan)


def fit(train: pd.DataFrame, valid: pd.DataFrame, names: list[str], target: str, model_cfg,
        overrides: dict | None = None, seed: int = 0, callbacks=None) -> xgb.Booster:
    """Fit on ``train``, early-stopping on ``valid`` (both one-step rows with actual lags)."""
    if len(train) == 0 or len(valid) == 0:
        raise UserError(f"empty {'training' if len(train) == 0 else 'validation'} window: "
                        "the data is too short for features.split and model.gap_days")
    dtrain = matrix(train, names, label(train[target], model_cfg))
    dvalid = matrix(valid, names, label(valid[target], model_cfg))
    return train_matrices(booster_params(model_cfg, overrides, seed), dtrain, dvalid, model_cfg, callbacks)


def train_matrices(params: dict, dtrain: xgb.DMatrix, dvalid: xgb.DMatrix, model_cfg,
                   callbacks=None) -> xgb.Booster:
    """Boost up to ``model.num_boost_round`` trees, early-stopping on ``dvalid``."""
    return xgb.train(params, dtrain, num_boost_round=int(model_cfg.num_boost_round),
                     evals=[(dvalid, "validation")],
                     early_stopping_rounds=int(model_cfg.early_stopping_rounds),
                     callbacks=callbacks, verbose_eval=False)


@dataclass(frozen=True)
class Fitted:
    """A fold's fitted model and the rows it saw (the train stage's summary)."""

    booster: xgb.Booster
    train_rows: int
    valid_rows: int
    example: pd.DataFrame  # the first validation rows' features (MLflow's input example)


class Forecaster:
    """A booster with its feature names and target transform: features in, sales out."""

    def __init__(self, booster: xgb.Booster, names: list[str], transform: str | None):
        self.booster, self.names, self.transform = booster, list(names), transform
        begin, end = (0, booster.best_iteration + 1) if _has_best(booster) else (0, 0)
        # inplace_predict's own arguments, made once: serving predicts a few rows at a time
        self._predict_args = xgb.core.make_jcargs(type=0, training=False, iteration_begin=begin,
                                                  iteration_end=end, missing=np.nan,
                                                  strict_shape=False, cache_id=0)

    @classmethod
    def from_fit(cls, booster: xgb.Booster, names: list[str], model_cfg) -> Forecaster:
        return cls(booster, names, objective(model_cfg)[2])

    def threads(self, n: int) -> Forecaster:
        """The same model predicting with ``n`` threads (0: all cores), for its own callers."""
        booster = self.booster.copy()
        booster.set_param({"nthread": int(n)})
        return Forecaster(booster, self.names, self.transform)

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Non-negative expected daily sales for each row."""
        missing = [n for n in self.names if n not in features.columns]
        if missing:
            raise UserError(f"features missing from the model input: {missing}")
        return self.predict_matrix(features[self.names].to_numpy(np.float32))

    def predict_matrix(self, x: np.ndarray) -> np.ndarray:
        """:meth:`predict` for a matrix whose columns are ``self.names`` in order (NaN = missing)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != len(self.names):
            raise UserError(f"the model takes {len(self.names)} feature columns {self.names}, "
                            f"got an array of shape {x.shape}")
        if len(x) == 0:
            return np.empty(0)
        raw = _predict_dense(self.booster, x, self._predict_args)
        out = np.expm1(raw) if self.transform == "log1p" else raw
        return np.maximum(out.astype(np.float64), 0.0)  # what np.clip(out, 0, None) computes

    def save(self, folder) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.set_attr(feature_names=json.dumps(self.names), transform=str(self.transform))
        path = folder / MODEL_FILE
        self.booster.save_model(path)
        return path

    @classmethod
    def load(cls, folder) -> Forecaster:
        path = Path(folder) / MODEL_FILE
        if not path.exists():
            raise UserError(f"{path} is missing: run the train stage first (dvc repro train)")
        booster = xgb.Booster()
        booster.load_model(path)
        transform = booster.attr("transform")
        return cls(booster, json.loads(booster.attr("feature_names")),
                   None if transform in (None, "None") else transform)


def _predict_dense(booster: xgb.Booster, x: np.ndarray, args: bytes) -> np.ndarray:
    """``booster.inplace_predict(x)`` for a C-contiguous float32 matrix: the same library
    call (XGBoosterPredictFromDense) without the Python set-up XGBoost repeats per call
    (type dispatch, JSON arguments, a class built to wrap the output), which cost more than
    the prediction itself for the few rows of a recursive step. Thread-safe like
    inplace_predict; tests hold the two equal."""
    from xgboost.core import _LIB, _check_call, c_bst_ulong

    shape, dims, out = ctypes.POINTER(c_bst_ulong)(), c_bst_ulong(), ctypes.POINTER(ctypes.c_float)()
    _check_call(_LIB.XGBoosterPredictFromDense(booster.handle, _array_interface(x), args, None,
                                               ctypes.byref(shape), ctypes.byref(dims),
                                               ctypes.byref(out)))
    size = 1
    for k in range(dims.value):
        size *= shape[k]
    result = np.empty(size, dtype=np.float32)
    ctypes.memmove(result.ctypes.data, out, size * 4)  # the library's buffer is reused per thread
    return result


def _array_interface(x: np.ndarray) -> bytes:
    return (b'{"data": [%d, true], "shape": [%d, %d], "strides": null, "typestr": "<f4", "version": 3}'
            % (x.ctypes.data, x.shape[0], x.shape[1]))


def _has_best(booster: xgb.Booster) -> bool:
    try:
        return booster.best_iteration is not None
    except AttributeError:
        return False
