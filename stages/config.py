"""Load the pipeline configuration: ``params.yaml`` plus ``key=value`` overrides.

``params.yaml`` is the committed Hydra composition of ``conf/``. Stages never use
``@hydra.main``; they read ``params.yaml`` with OmegaConf. Overrides given on the
command line follow Hydra's grammar: ``seed=7`` or ``data.n_stores=5`` change one value
of ``params.yaml``; ``data=medium`` (a config group) recomposes from ``conf/`` with all
the overrides, exactly as ``dvc exp run -S`` would.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from stages.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
PARAMS = ROOT / "params.yaml"
CONF_DIR = ROOT / "conf"
CONFIG_NAME = "config"


def groups(conf_dir: Path = CONF_DIR) -> set[str]:
    """Config group names: the sub-folders of ``conf/``."""
    return {p.name for p in conf_dir.iterdir() if p.is_dir()}


def compose(overrides: Sequence[str] = (), conf_dir: Path = CONF_DIR) -> DictConfig:
    """Compose ``conf/`` with Hydra's compose API, resolved, as DVC writes params.yaml."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException

    try:
        with initialize_config_dir(str(conf_dir.resolve()), version_base=None):
            cfg = hydra_compose(config_name=CONFIG_NAME, overrides=list(overrides))
        OmegaConf.resolve(cfg)
    except (HydraException, OmegaConfBaseException) as exc:
        raise UserError(f"cannot compose the configuration from {conf_dir}: {exc}") from None
    return cfg


def load(
    overrides: Sequence[str] = (), params: Path = PARAMS, conf_dir: Path = CONF_DIR
) -> DictConfig:
    """The configuration a stage runs with."""
    for item in overrides:
        if "=" not in item:
            raise UserError(f"override {item!r} is not key=value (for example seed=7 or data=medium)")
    names = {item.split("=", 1)[0].lstrip("+~") for item in overrides}
    if names & groups(conf_dir):
        return compose(overrides, conf_dir)
    if not params.exists():
        raise UserError(f"{params} is missing: run `make params` to compose it from {conf_dir}/")
    try:
        cfg = OmegaConf.load(params)
        OmegaConf.set_struct(cfg, True)  # unknown keys are typos, not new settings
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
    except OmegaConfBaseException as exc:
        raise UserError(f"bad override or {params.name}: {exc}") from None
    OmegaConf.set_struct(cfg, False)
    return cfg


def dump_params(params: Path = PARAMS, conf_dir: Path = CONF_DIR) -> None:
    """Write the default composition to params.yaml (what `make params` runs)."""
    params.write_text(OmegaConf.to_yaml(compose((), conf_dir)), encoding="utf-8")


if __name__ == "__main__":
    dump_params()
