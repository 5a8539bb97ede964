"""The best forecast any model of the mean could make on generated data (for bench/accuracy.py).

The generator's truth, the oracle, is exp(what a model can learn + z_t) (see
``demandcast.data.synth.demand``): the series' level and trend, its weekly and yearly seasons,
holidays, promotion uplift, and z_t, a latent AR(1) state. The oracle knows z on every future
day, which no forecaster can. The *state-aware* forecast knows everything else exactly, and z
on the origin (the last known day), and forecasts day h after it with the conditional mean

    E[exp(z_h) | z_0] = exp(phi^h z_0 + s^2 (1 - phi^(2h)) / 2),   s^2 the state's variance,

in place of the oracle's exp(z_h). Its WAPE ÷ the oracle's is the floor under the model's: the
part of WAPE ÷ oracle that no model can remove, against which the accuracy target reads.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd


def latent_states(cfg, first: dt.date, last: dt.date):
    """The generator's world for ``cfg`` (``data`` and ``seed``) and its latent state on the days
    ``first``..``last``, as a (days, series) array; the simulation is rerun, not read back."""
    from demandcast.data.generate import build_world
    from demandcast.data.synth.demand import simulate

    world, _ = build_world(cfg.data, int(cfg.seed))
    start = pd.Timestamp(world.start)
    lo, hi = (pd.Timestamp(first) - start).days, (pd.Timestamp(last) - start).days
    states = np.empty((hi - lo + 1, len(world.level)))
    for chunk in simulate(world, int(cfg.data.chunk_days), int(cfg.seed)):
        days = chunk.first_day + np.arange(len(chunk.state))
        keep = (days >= lo) & (days <= hi)
        states[days[keep] - lo] = chunk.state[keep]
        if days[-1] >= hi:
            break
    return world, states


def state_aware(cells: pd.DataFrame, cfg, origin: dt.date) -> np.ndarray:
    """The state-aware forecast of each cell (``store_nbr``, ``item_nbr``, ``horizon``: days after
    ``origin``, ``oracle``: the truth's expected demand) of generated data."""
    from demandcast.data.synth.demand import RETURN_MEAN

    horizon = cells["horizon"].to_numpy()
    world, z = latent_states(cfg, origin, origin + dt.timedelta(days=int(horizon.max())))
    series = pd.Series(np.arange(len(world.level)), index=pd.MultiIndex.from_arrays(
        [world.store_nbr[world.s_store], world.item_nbr[world.s_item]]))
    s = series.reindex(pd.MultiIndex.from_arrays([cells["store_nbr"], cells["item_nbr"]])).to_numpy()
    if np.isnan(s).any():
        raise ValueError("cells hold series this configuration's generator does not make")
    s = s.astype(np.int64)
    phi, variance = world.phi[s], world.shock_sd[s] ** 2 / (1 - world.phi[s] ** 2)
    expected_state = phi ** horizon * z[0, s] + variance * (1 - phi ** (2 * horizon)) / 2
    # The truth is (1 - p) * mu - p * RETURN_MEAN on a trading day (p: a return's chance), 0 when
    # every store is closed; mu carries exp(z_h), swapped here for its expectation.
    day = (pd.Timestamp(origin) - pd.Timestamp(world.start)).days + horizon
    trading = ~world.closed[day]
    p = world.return_prob
    mu_part = cells["oracle"].to_numpy(dtype=np.float64) + p * RETURN_MEAN
    return np.where(trading, mu_part * np.exp(expected_state - z[horizon, s]) - p * RETURN_MEAN, 0.0)
