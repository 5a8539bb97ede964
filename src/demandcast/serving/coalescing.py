"""Concurrent forecast requests merged into one engine pass.

A one-series forecast is 28 small steps (features, then one XGBoost call per day) whose cost
hardly grows with the number of series in them: eight concurrent one-series requests cost
about what one costs when they are forecast together. :class:`Coalescer` does that without
a timer: a request that finds the engine idle runs at once (no added latency); requests that
arrive while it is busy wait, and when it frees up all of them go through
:meth:`~demandcast.serving.engine.Engine.answer` together. Whoever finishes a pass hands the
next one to a waiting request's thread, so no thread of its own is needed and nobody's
answer waits for someone else's pass.

Each request is checked (:meth:`~demandcast.serving.engine.Engine.plan`) in its own thread
first, so a bad request fails alone; should a merged pass fail anyway, its requests are
answered one by one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from demandcast.serving.engine import Engine, Query, Result


@dataclass
class _Waiting:
    queries: list[Query]
    plans: list[dict]
    woken: threading.Event = field(default_factory=threading.Event)
    results: list[Result] | None = None
    error: BaseException | None = None


class Coalescer:
    """:meth:`forecast` as :meth:`Engine.forecast`, safe to call from many threads at once."""

    def __init__(self, engine: Engine, max_series: int = 4000):
        self.engine, self.max_series = engine, max_series
        self._lock = threading.Lock()
        self._waiting: list[_Waiting] = []
        self._busy = False
        self.passes = 0  # engine passes made (fewer than requests when requests were merged)

    def forecast(self, queries: list[Query]) -> list[Result]:
        me = _Waiting(queries, self.engine.plan(queries))
        with self._lock:
            self._waiting.append(me)
            leads, self._busy = not self._busy, True
        if not leads:
            me.woken.wait()  # answered, or handed the next pass
        if me.results is None and me.error is None:
            self._run()
        if me.error is not None:
            raise me.error
        return me.results

    def _run(self) -> None:
        """One pass over (a series budget's worth of) the waiting requests, then the next
        pass handed to the first request still waiting."""
        with self._lock:
            batch, size = [], 0
            while self._waiting and (not batch or size + len(self._waiting[0].queries) <= self.max_series):
                size += len(self._waiting[0].queries)
                batch.append(self._waiting.pop(0))
        try:
            results = self.engine.answer([(w.queries, w.plans) for w in batch])
            for w, r in zip(batch, results, strict=True):
                w.results = r
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:  # one request's trouble must not fail the others: each alone
                for w in batch:
                    try:
                        w.results = self.engine.answer([(w.queries, w.plans)])[0]
                    except Exception as alone:
                        w.error = alone
        with self._lock:
            self.passes += 1
            following = self._waiting[0] if self._waiting else None
            self._busy = following is not None
        for w in batch:
            w.woken.set()
        if following is not None:
            following.woken.set()

