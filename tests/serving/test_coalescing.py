"""Concurrent requests merged into engine passes: same answers, fewer passes, errors kept apart."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from demandcast.errors import UserError
from demandcast.serving.coalescing import Coalescer
from demandcast.serving.engine import Engine, Query

pytestmark = pytest.mark.slow


class HeldEngine(Engine):
    """The real engine, whose first pass waits until the test lets it go, so the requests
    sent meanwhile pile up; passes whose series include ``poison`` fail."""

    def __init__(self, bundle, poison=None):
        super().__init__(bundle, max_horizon=int(bundle.metadata["max_horizon"]))
        self.entered, self.release, self.poison = threading.Event(), threading.Event(), poison
        self.passes: list[int] = []

    def answer(self, requests):
        self.passes.append(len(requests))
        if len(self.passes) == 1:
            self.entered.set()
            self.release.wait(60)
        if self.poison in {(q.store_nbr, q.item_nbr) for queries, _ in requests for q in queries}:
            if len(requests) > 1:
                raise RuntimeError("a merged pass went wrong")
        return super().answer(requests)


@pytest.fixture(scope="module")
def series(tiny_bundle):
    keys = tiny_bundle.history[["store_nbr", "item_nbr"]].drop_duplicates()
    return [tuple(map(int, k)) for k in keys.to_numpy()[:12]]


def send_while_held(engine: HeldEngine, requests: list[list[Query]]):
    """The first request holds the engine; the others arrive while it is busy."""
    coalescer = Coalescer(engine)
    with ThreadPoolExecutor(len(requests)) as pool:
        first = pool.submit(coalescer.forecast, requests[0])
        assert engine.entered.wait(60)
        rest = [pool.submit(coalescer.forecast, r) for r in requests[1:]]
        while len(coalescer._waiting) + sum(f.done() for f in rest) < len(rest):  # queued, or refused
            time.sleep(0.01)
        engine.release.set()
        outcomes = []
        for f in [first, *rest]:
            try:
                outcomes.append(f.result(60))
            except Exception as exc:  # noqa: BLE001 - the test looks at which request failed
                outcomes.append(exc)
    return coalescer, outcomes


def test_requests_arriving_while_busy_share_one_pass(tiny_bundle, engine, series):
    held = HeldEngine(tiny_bundle)
    requests = [[Query(s, i, 28)] for s, i in series[:9]]
    coalescer, outcomes = send_while_held(held, requests)
    assert held.passes == [1, 8] and coalescer.passes == 2  # the first alone, then the other 8 at once
    for request, got in zip(requests, outcomes, strict=True):
        alone = engine.forecast(request)[0]
        np.testing.assert_array_equal(got[0].forecast, alone.forecast)
        np.testing.assert_array_equal(got[0].features, alone.features)


def test_a_bad_request_fails_alone(tiny_bundle, series):
    held = HeldEngine(tiny_bundle)
    (s, i), (s2, i2) = series[:2]
    requests = [[Query(s, i, 7)], [Query(s2, i2, 500)], [Query(s, i, 3), Query(s2, i2, 3)]]
    _, outcomes = send_while_held(held, requests)
    assert isinstance(outcomes[1], UserError) and "requests[0].horizon" in str(outcomes[1])
    assert len(outcomes[0]) == 1 and len(outcomes[2]) == 2


def test_a_failing_merged_pass_answers_each_request_alone(tiny_bundle, series):
    held = HeldEngine(tiny_bundle, poison=series[3])
    requests = [[Query(*series[k], 5)] for k in (0, 1, 3, 2)]
    _, outcomes = send_while_held(held, requests)
    assert held.passes[:2] == [1, 3]  # the merged pass failed, then one by one
    assert all(isinstance(o, list) and len(o) == 1 for o in outcomes)


def test_same_series_from_two_requests_in_one_pass(tiny_bundle, engine, series):
    """Two planners asking for the same series with different promotions get their own answers."""
    held = HeldEngine(tiny_bundle)
    s, i = series[4]
    end = held.history_end
    promoted = Query(s, i, 7, promotions=[end + dt.timedelta(days=k) for k in range(1, 8)])
    requests = [[Query(*series[5], 7)], [Query(s, i, 7)], [promoted]]
    _, outcomes = send_while_held(held, requests)
    np.testing.assert_array_equal(outcomes[1][0].forecast, engine.forecast([Query(s, i, 7)])[0].forecast)
    np.testing.assert_array_equal(outcomes[2][0].forecast, engine.forecast([promoted])[0].forecast)
    assert outcomes[2][0].forecast.sum() > outcomes[1][0].forecast.sum()
