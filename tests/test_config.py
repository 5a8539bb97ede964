"""params.yaml is the Hydra composition of conf/, and stages read it with overrides."""

import pytest
from dvc.utils.hydra import compose_and_dump

from demandcast import config
from demandcast.errors import UserError
from tests.helpers import ROOT


def test_params_yaml_is_what_conf_composes_to(tmp_path):
    """What DVC writes before `dvc exp run` must equal the committed params.yaml."""
    composed = tmp_path / "params.yaml"
    compose_and_dump(composed, str(config.conf_dir()), None, config.CONFIG_NAME, str(tmp_path), [])
    assert composed.read_text() == config.params_path().read_text(), "run `make params` and commit"


def test_required_groups_exist():
    assert {"data", "spark", "features", "model", "tune", "serve"} <= config.groups()


def test_dotlist_override_changes_one_value():
    cfg = config.load(["data.n_stores=3", "seed=7"])
    assert cfg.data.n_stores == 3 and cfg.seed == 7
    assert cfg.data.name == config.load().data.name


def test_group_override_recomposes_from_conf():
    cfg = config.load(["data=medium", "data.n_items=11"])
    assert cfg.data.name == "medium" and cfg.data.n_items == 11


def test_spark_large_brings_the_routes_that_never_hold_the_table(tmp_path):
    """`-S spark=large` (DVC's composition) selects conf/scale/large.yaml too; `-S key=value`
    still wins, and the default (spark=local) keeps the in-memory routes."""
    composed = tmp_path / "params.yaml"
    compose_and_dump(composed, str(config.conf_dir()), None, config.CONFIG_NAME, str(tmp_path),
                     ["data=favorita", "spark=large", "evaluate.series_chunk=5000"])
    large = config.load(params=composed)
    assert (large.model.engine, large.model.external_memory) == ("streamed", True)
    assert large.model.train_days == 365  # all of Favorita's history would be 4.6x the fit
    assert large.tune.series_share == 0.02 and large.evaluate.series_chunk == 5000
    assert large.evaluate.folds == 1  # each backtest fold would be one more fit as long as train's
    assert large.spark.driver_memory == "14g" and large.data.name == "favorita"
    default = config.load(["spark=local"])
    assert default.model.engine == "local" and default.tune.series_share is None
    assert default.evaluate.series_chunk is None and default.evaluate.folds == 3


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


def test_the_root_is_found_from_the_working_directory_not_the_code(tmp_path, monkeypatch):
    monkeypatch.delenv(config.ROOT_ENV, raising=False)
    monkeypatch.chdir(ROOT / "conf" / "data")  # a sub-folder of the project: its parents are searched
    assert config.root() == ROOT
    elsewhere = tmp_path / "project"
    (elsewhere / "conf").mkdir(parents=True)
    (elsewhere / "conf" / "config.yaml").write_text("seed: 3\n")
    monkeypatch.chdir(elsewhere)
    assert config.root() == elsewhere.resolve()
    assert config.compose().seed == 3  # that project's conf/, not this checkout's


def test_demandcast_root_wins_over_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(config.ROOT_ENV, str(ROOT))
    assert config.params_path() == ROOT / "params.yaml"
    assert config.load().seed == 42


def test_outside_any_project_the_error_says_where_to_run(tmp_path, monkeypatch):
    monkeypatch.delenv(config.ROOT_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="DEMANDCAST_ROOT"):
        config.load()


@pytest.mark.parametrize("preset", sorted(p.stem for p in (ROOT / "conf" / "data").glob("*.yaml")))
def test_every_data_preset_names_its_holidays_and_the_spec_tracks_them(preset):
    """The named holidays are the data preset's (its calendar's language), composed into the
    feature spec, so a data preset needs a `holidays` block."""
    from demandcast.features import feature_spec

    cfg = config.load([f"data={preset}"])
    spec = feature_spec.from_config(cfg.features)
    assert spec.named == dict(cfg.data.holidays.named) and spec.named
