"""The packaged bundle of the tiny pipeline, and an engine on it, for tests without HTTP."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_bundle(tiny_bento):
    """The serving bundle inside the tiny bento's BentoML model, loaded as the service loads it."""
    from demandcast.serving import bundle

    folders = [p for p in (tiny_bento.home / "models").glob("*/*") if (p / "history.parquet").exists()]
    assert len(folders) == 1, folders
    return bundle.load(folders[0])


@pytest.fixture(scope="session")
def engine(tiny_bundle):
    from demandcast.serving.engine import Engine

    return Engine(tiny_bundle, max_horizon=int(tiny_bundle.metadata["max_horizon"]))
