"""model.engine: one name for where models are fitted."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from demandcast.errors import UserError
from demandcast.models import engines


def test_the_engines_are_named():
    assert engines.engine(OmegaConf.create({})) == "local"
    assert engines.engine(OmegaConf.create({"engine": "streamed"})) == "streamed"
    with pytest.raises(UserError, match=r"engine='dask' is not one of \['local', 'streamed', 'spark'\]"):
        engines.engine(OmegaConf.create({"engine": "dask"}))
