"""params.yaml is the Hydra composition of conf/, and stages read it with overrides."""

import pytest
from dvc.utils.hydra import compose_and_dump

from stages import config
from stages.errors import UserError


def test_params_yaml_is_what_conf_composes_to(tmp_path):
    """What DVC writes before `dvc exp run` must equal the committed params.yaml."""
    composed = tmp_path / "params.yaml"
    compose_and_dump(composed, str(config.CONF_DIR), None, config.CONFIG_NAME, str(tmp_path), [])
    assert composed.read_text() == config.PARAMS.read_text(), "run `make params` and commit"


def test_required_groups_exist():
    assert {"data", "spark", "features", "model", "tune", "serve"} <= config.groups()


def test_dotlist_override_changes_one_value():
    cfg = config.load(["data.n_stores=3", "seed=7"])
    assert cfg.data.n_stores == 3 and cfg.seed == 7
    assert cfg.data.name == config.load().data.name


def test_group_override_recomposes_from_conf():
    cfg = config.load(["data=medium", "data.n_items=11"])
    assert cfg.data.name == "medium" and cfg.data.n_items == 11


@pytest.mark.parametrize(
    ("overrides", "message"),
    [(["data.n_storez=3"], "n_storez"), (["data=nope"], "nope"), (["seed"], "key=value")],
)
def test_bad_overrides_are_named(overrides, message):
    with pytest.raises(UserError, match=message):
        config.load(overrides)


def test_missing_params_yaml_says_how_to_make_it(tmp_path):
    with pytest.raises(UserError, match="make params"):
        config.load([], params=tmp_path / "params.yaml")
