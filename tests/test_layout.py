"""The layout's rules: one library, thin doors, and dvc.yaml deps that follow the imports."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from tests.helpers import ROOT

SRC = ROOT / "src"
DOORS = ("stages", "bento", "ui")


def imported(path: Path) -> set[str]:
    """Every module name an ``import`` or ``from ... import`` in ``path`` names (nested ones too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def module_file(name: str) -> Path | None:
    base = SRC.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.exists():
            return candidate
    return None


def library_closure(path: Path) -> set[Path]:
    """The library's files that ``path`` imports, directly or through each other."""
    seen: set[Path] = set()
    todo = [n for n in imported(path) if n.startswith("demandcast")]
    while todo:
        found = module_file(todo.pop())
        if found is None or found in seen:
            continue
        seen.add(found)
        todo += [n for n in imported(found) if n.startswith("demandcast")]
    return seen


def test_the_library_never_imports_a_door_nor_finds_files_from_its_own_location():
    for path in sorted(SRC.rglob("*.py")):
        doors = {n for n in imported(path) if n.split(".")[0] in DOORS}
        assert not doors, f"{path.relative_to(ROOT)} imports {doors}: shared code belongs in the library"
        assert "__file__" not in path.read_text(), f"{path.relative_to(ROOT)}: paths come from config.root()"


def test_stages_holds_only_the_dvc_stages_and_none_imports_another():
    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    entry_points = {spec["cmd"].split("python -m stages.")[1].split()[0] for spec in pipeline.values()}
    modules = {p.stem for p in (ROOT / "stages").glob("*.py")} - {"__init__"}
    assert modules == entry_points
    for name in sorted(modules):
        crossing = {n for n in imported(ROOT / "stages" / f"{name}.py") if n.split(".")[0] == "stages"}
        assert not crossing, f"stages/{name}.py imports {crossing}"


def test_bento_holds_only_the_service_and_its_build_config():
    assert sorted(p.name for p in (ROOT / "bento").iterdir() if p.name != "__pycache__") == [
        "bentofile.yaml", "requirements.txt", "service.py"]


def test_every_stage_depends_on_the_library_code_it_imports():
    """A change to a subpackage must rerun every stage that uses it (and only those)."""
    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for stage, spec in pipeline.items():
        entry = ROOT / "stages" / f"{stage}.py"
        deps = [d.split("#")[0].strip().rstrip("/") for d in spec["deps"]]
        assert f"stages/{stage}.py" in deps
        covered = [ROOT / d for d in deps if d.startswith("src/")]
        for path in library_closure(entry):
            if path.name == "__init__.py" and path.parent == SRC / "demandcast":
                continue  # the package's docstring
            assert any(path == c or c in path.parents for c in covered), (
                f"dvc.yaml stage {stage!r} imports {path.relative_to(ROOT)} but does not depend on it")


def test_the_bento_is_built_from_the_whole_library():
    build = yaml.safe_load((ROOT / "bento" / "bentofile.yaml").read_text())
    assert build["python"]["is_src_layout"] is True
    assert "src/demandcast/**/*.py" in build["include"]
    package = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["package"]
    assert any(d.split("#")[0].strip() == "src/demandcast" for d in package["deps"])


def test_a_copy_of_the_project_runs_its_own_library(tmp_path):
    """DVC runs queued and --temp experiments in a copy (.dvc/tmp/exps/...) with the workspace's
    environment, whose editable install points at the workspace's src/: importing `stages`
    must make the copy's own src/ win."""
    import shutil
    import subprocess
    import sys

    copy = tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc"
    shutil.copytree(ROOT / "stages", copy / "stages")
    shutil.copytree(ROOT / "src" / "demandcast", copy / "src" / "demandcast")
    probe = "import stages, demandcast.config as c; print(c.__file__)"
    done = subprocess.run([sys.executable, "-c", probe], cwd=copy, capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == str(copy / "src" / "demandcast" / "config.py")


def test_the_serving_process_never_imports_monitoring_nor_evidently():
    """Evidently takes seconds to import: the service must not pay for it."""
    service = ROOT / "bento" / "service.py"
    closure = library_closure(service)
    assert closure and SRC / "demandcast" / "monitoring" not in {p.parent for p in closure}
    for path in [service, *closure]:
        found = {n for n in imported(path) if n.split(".")[0] == "evidently"}
        assert not found, f"{path.relative_to(ROOT)} imports {found}"
