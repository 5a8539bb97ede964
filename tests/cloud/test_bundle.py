"""The zips a cluster gets: the whole library, its pure-Python dependencies, the same bytes twice."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

from demandcast.cloud import bundle
from demandcast.errors import UserError
from tests.helpers import ROOT


def test_the_library_zip_holds_every_module_and_is_deterministic(tmp_path):
    first = bundle.library_zip(tmp_path / "a.zip", ROOT)
    second = bundle.library_zip(tmp_path / "b.zip", ROOT)
    assert first.read_bytes() == second.read_bytes()
    assert bundle.content_hash(first) == bundle.content_hash(second)
    names = zipfile.ZipFile(first).namelist()
    src = ROOT / "src"
    library = sorted(p.relative_to(src).as_posix() for p in (src / "demandcast").rglob("*.py")
                     if "__pycache__" not in p.parts)
    assert names == library


def test_the_deps_zip_is_pure_python_and_enough_to_load_the_configuration(tmp_path):
    deps, pins = bundle.deps_zip(tmp_path / "deps.zip", ["omegaconf", "hydra-core"])
    again, _ = bundle.deps_zip(tmp_path / "again.zip", ["hydra-core", "omegaconf"])
    assert deps.read_bytes() == again.read_bytes()
    names = {pin.split("==")[0] for pin in pins}
    assert names == {"antlr4-python3-runtime", "hydra-core", "omegaconf", "packaging", "PyYAML"}
    listed = zipfile.ZipFile(deps).namelist()
    assert not [n for n in listed if n.endswith((".so", ".pyc"))]
    assert "hydra/conf/hydra/output/default.yaml" in listed  # package data travels too

    # A Python without site-packages, given only the two zips, loads params.yaml and composes conf/.
    library = bundle.library_zip(tmp_path / "demandcast.zip", ROOT)
    probe = ("from demandcast import config; import yaml, omegaconf; "
             "assert 'zip' in omegaconf.__file__ and not hasattr(yaml, '__with_libyaml__') or "
             "not yaml.__with_libyaml__; "
             "cfg = config.load(['data=tiny']); print(cfg.data.name, config.load().spark.master)")
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": f"{library}{os.pathsep}{deps}",
           "DEMANDCAST_ROOT": str(ROOT)}
    done = subprocess.run([os.path.realpath(sys.executable), "-S", "-c", probe], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["tiny", "local[2]"]


def test_spark_itself_is_never_shipped_and_unknown_names_are_refused(tmp_path):
    assert [d.metadata["Name"] for d in bundle.closure(["pyspark"])] == []
    with pytest.raises(UserError, match="'no-such-package' is not installed here"):
        bundle.deps_zip(tmp_path / "deps.zip", ["no-such-package"])
