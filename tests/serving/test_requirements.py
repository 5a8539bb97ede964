"""The bento's requirements: every package the image installs, locked to uv.lock's versions."""

from __future__ import annotations

import sys
import tomllib
from importlib.metadata import packages_distributions, version

from demandcast.serving import requirements
from tests.helpers import ROOT
from tests.test_layout import imported, library_closure


def pins() -> dict[str, str]:
    lines = (ROOT / requirements.REQUIREMENTS).read_text().splitlines()
    return dict(line.split("==") for line in lines if line and not line.startswith("#"))


def test_the_file_is_the_lock_closure_of_what_the_service_needs():
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    expected = requirements.render(requirements.locked_closure(lock))
    assert (ROOT / requirements.REQUIREMENTS).read_text() == expected, \
        "bento/requirements.txt is stale: run `make bento-requirements` and commit it"


def test_every_pin_is_the_installed_version():
    locked = pins()
    assert set(requirements.SERVICE) <= set(locked)
    assert len(locked) > 50  # every transitive package, not only the direct ones
    assert locked == {name: version(name) for name in locked}


def test_what_the_service_imports_is_in_the_image():
    """Every third-party import of bento/service.py and the library code it loads."""
    files = {ROOT / "bento" / "service.py"} | library_closure(ROOT / "bento" / "service.py")
    tops = {name.split(".")[0] for path in files for name in imported(path)}
    third_party = tops - set(sys.stdlib_module_names) - {"demandcast", "bento", "__future__"}
    distributions = packages_distributions()
    needed = {dist.lower() for top in third_party for dist in distributions[top]}
    assert needed <= {name.lower() for name in pins()}, needed - {name.lower() for name in pins()}


def test_markers_follow_the_image_platform():
    lock = {"package": [
        {"name": "app", "version": "1", "dependencies": [
            {"name": "linux-only", "marker": "sys_platform == 'linux'"},
            {"name": "windows-only", "marker": "sys_platform == 'win32'"},
            {"name": "lib", "extra": ["fast"]}]},
        {"name": "linux-only", "version": "2"},
        {"name": "windows-only", "version": "3"},
        {"name": "lib", "version": "4", "optional-dependencies": {"fast": [{"name": "speedup"}]}},
        {"name": "speedup", "version": "5"}]}
    assert requirements.locked_closure(lock, roots=("app",)) == {
        "app": "1", "lib": "4", "linux-only": "2", "speedup": "5"}
