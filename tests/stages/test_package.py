"""The package stage's checks (the bento's locked requirements: tests/serving/test_requirements.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import ROOT


def package(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stages.package", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_without_features_it_says_which_stage_to_run(tmp_path):
    done = package(f"paths.artifacts={tmp_path}", f"mlflow.tracking_uri=sqlite:///{tmp_path / 'm.db'}")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "run the features stage first" in done.stderr


@pytest.mark.slow
def test_without_a_champion_nothing_is_packaged(tmp_path, tiny_features):
    (tmp_path / "features").symlink_to(tiny_features[0])
    done = package(f"paths.artifacts={tmp_path}", f"mlflow.tracking_uri=sqlite:///{tmp_path / 'm.db'}",
                   "data=tiny")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "has no 'champion' version" in done.stderr and "dvc repro register" in done.stderr
    assert not (tmp_path / "package").exists()


def test_the_packaged_bento_carries_the_snapshot(tiny_bento):
    import tarfile

    import pandas as pd

    names = tarfile.open(tiny_bento.archive).getnames()
    model = [n for n in names if n.endswith("/history.parquet")]
    assert len(model) == 1 and any(n.endswith("env/python/requirements.txt") for n in names)
    folder = tiny_bento.root / "unpacked"
    tarfile.open(tiny_bento.archive).extractall(folder, filter="data")
    history = pd.read_parquet(folder / model[0])
    first = pd.Timestamp(tiny_bento.package["snapshot_start"])
    # test_days + the farthest day a feature reads (28 + 394: the yearly base, 364 + 30 days back)
    assert tiny_bento.package["history_end"] == "2023-12-31" and str(first.date()) == "2022-11-05"
    marks = history[history["date"] < first]  # series older than the snapshot say so
    assert (marks["date"] == first - pd.Timedelta(days=1)).all() and (marks["unit_sales"] == 0).all()
    assert len(marks) > 0 and history["date"].max() == pd.Timestamp("2023-12-31")
    assert "package: demandcast-xgboost v1 (champion)" in tiny_bento.stdout


def test_the_bento_ships_the_library_as_a_package(tiny_bento, tmp_path):
    """Every module of src/demandcast is in the bento as demandcast/, and that copy is what
    imports when the bento's source folder leads sys.path (as `bentoml serve` puts it)."""
    import tarfile

    tarfile.open(tiny_bento.archive).extractall(tmp_path, filter="data")
    def modules(src):
        return sorted(p.relative_to(src).as_posix() for p in (src / "demandcast").rglob("*.py"))

    library, shipped = modules(ROOT / "src"), modules(tmp_path / "src")
    assert shipped == library and (tmp_path / "src" / "bento" / "service.py").exists()
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import demandcast.serving.engine as e, "
             "demandcast.models.forecast as f; print(e.__file__); print(f.__file__)")
    done = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "src")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=True)
    assert all(line.startswith(str(tmp_path / "src" / "demandcast")) for line in done.stdout.split())


def test_the_bento_is_built_from_a_copy_outside_hidden_folders(tmp_path):
    """`bentoml build` refuses a context under a hidden folder, such as the .dvc/tmp/exps/...
    copy a queued experiment runs in: the package stage builds from a copy elsewhere."""
    from demandcast.errors import UserError
    from demandcast.serving.packaging import build_context

    context = build_context(ROOT, tmp_path / "context")
    assert sorted(p.name for p in (context / "bento").iterdir()) == [
        "bentofile.yaml", "requirements.txt", "service.py"]
    library = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "src" / "demandcast").rglob("*.py"))
    assert sorted(p.relative_to(context).as_posix() for p in (context / "src").rglob("*.py")) == library
    with pytest.raises(UserError, match="hidden folder"):
        build_context(ROOT, tmp_path / ".dvc" / "tmp" / "context")
