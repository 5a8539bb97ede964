"""Split-conformal intervals: calibrated widths give nominal coverage on new exchangeable data."""

import numpy as np
import pandas as pd
import pytest

from demandcast.models import conformal, metrics


def poisson_frame(rng, n, horizons=4):
    level = rng.gamma(2.0, 4.0, size=n)
    return pd.DataFrame({"horizon": rng.integers(1, horizons + 1, size=n),
                         "forecast": level, "actual": rng.poisson(level).astype(float)})


@pytest.mark.parametrize("level", [0.8, 0.95])
def test_coverage_on_fresh_data_is_nominal(level):
    rng = np.random.default_rng(0)
    calib, test = poisson_frame(rng, 20000), poisson_frame(rng, 20000)
    widths = conformal.calibrate(calib, [level])
    lo, hi = conformal.intervals(test["forecast"], test["horizon"], widths)[f"{level:.2f}"]
    assert metrics.coverage(test["actual"], lo, hi) == pytest.approx(level, abs=0.01)
    assert (lo >= 0).all() and (hi >= test["forecast"]).all()


def test_finite_sample_quantile_and_longer_horizons_use_the_last_width():
    calib = pd.DataFrame({"horizon": 1, "forecast": 0.0, "actual": np.arange(1.0, 10.0)})
    widths = conformal.calibrate(calib, [0.8])
    assert widths["0.80"][1] == 8.0  # ceil((9 + 1) * 0.8) = 8th smallest score
    lo, hi = conformal.intervals([3.0, 3.0], [1, 5], widths)["0.80"]
    assert hi.tolist() == pytest.approx([3 + 8 * 2.0] * 2)  # sqrt(1 + 3) = 2
