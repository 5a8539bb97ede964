"""Load the pipeline configuration: ``params.yaml`` plus ``key=value`` overrides.

``params.yaml`` is the committed Hydra composition of ``conf/``. Stages never use
``@hydra.main``; they read ``params.yaml`` with OmegaConf. Overrides given on the
command line follow Hydra's grammar: ``seed=7`` or ``data.n_stores=5`` change one value
of ``params.yaml``; ``data=medium`` (a config group) recomposes from ``conf/`` with all
the overrides, exactly as ``dvc exp run -S`` would.

Where the project is: ``$DEMANDCAST_ROOT`` when set, else the working directory or the
nearest parent holding ``params.yaml`` or ``conf/`` (``dvc repro`` runs stages from the
project root). Never this file's location: the same code runs from a checkout, an
installed wheel, a zip on a Spark cluster and a bento.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from demandcast.errors import UserError

ROOT_ENV = "DEMANDCAST_ROOT"
CONFIG_NAME = "config"


def root() -> Path:
    """The project root: ``$DEMANDCAST_ROOT``, else the working directory or the nearest
    parent with ``params.yaml`` or ``conf/`` (the working directory itself when none has)."""
    explicit = os.environ.get(ROOT_ENV)
    if explicit:
        return Path(explicit).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "params.yaml").is_file() or (folder / "conf" / f"{CONFIG_NAME}.yaml").is_file():
            return folder
    return here


def params_path() -> Path:
    return root() / "params.yaml"


def conf_dir() -> Path:
    return root() / "conf"


def groups(conf: Path | None = None) -> set[str]:
    """Config group names: the sub-folders of ``conf/``."""
    conf = conf or conf_dir()
    return {p.name for p in conf.iterdir() if p.is_dir()} if conf.is_dir() else set()


def compose(overrides: Sequence[str] = (), conf: Path | None = None) -> DictConfig:
    """Compose ``conf/`` with Hydra's compose API, resolved, as DVC writes params.yaml."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException

    conf = conf or conf_dir()
    if not (conf / f"{CONFIG_NAME}.yaml").is_file():
        raise UserError(f"{conf}/{CONFIG_NAME}.yaml is missing: run from the project root "
                        f"or set {ROOT_ENV} to it")
    try:
        with initialize_config_dir(str(conf.resolve()), version_base=None):
            cfg = hydra_compose(config_name=CONFIG_NAME, overrides=list(overrides))
        OmegaConf.resolve(cfg)
    except (HydraException, OmegaConfBaseException) as exc:
        raise UserError(f"cannot compose the configuration from {conf}: {exc}") from None
    return cfg


def load(overrides: Sequence[str] = (), params: Path | None = None,
         conf: Path | None = None) -> DictConfig:
    """The configuration a stage runs with."""
    params, conf = params or params_path(), conf or conf_dir()
    for item in overrides:
        if "=" not in item:
            raise UserError(f"override {item!r} is not key=value (for example seed=7 or data=medium)")
    names = {item.split("=", 1)[0].lstrip("+~") for item in overrides}
    if names & groups(conf):
        return compose(overrides, conf)
    if not params.exists():
        raise UserError(f"{params} is missing: run `make params` to compose it from {conf}/ "
                        f"(or run from the project root, or set {ROOT_ENV})")
    try:
        cfg = OmegaConf.load(params)
        OmegaConf.set_struct(cfg, True)  # unknown keys are typos, not new settings
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
    except OmegaConfBaseException as exc:
        raise UserError(f"bad override or {params.name}: {exc}") from None
    OmegaConf.set_struct(cfg, False)
    return cfg


def dump_params(params: Path | None = None, conf: Path | None = None) -> Path:
    """Write the default composition to params.yaml (what `make params` runs)."""
    params = params or params_path()
    params.write_text(OmegaConf.to_yaml(compose((), conf)), encoding="utf-8")
    return params
