"""What a cluster runs besides its own Spark: the library and its pure-Python dependencies.

Both are zips for ``spark-submit --py-files`` (Python imports from zips on ``sys.path``):

* :func:`library_zip`: ``src/demandcast/**/*.py`` under the project root, as ``demandcast/...``;
* :func:`deps_zip`: the installed distributions the entry point imports that EMR's image lacks
  (``omegaconf``, ``hydra-core`` and what they require: PyYAML, the ANTLR runtime,
  ``packaging``), with their package data, without compiled extensions (PyYAML falls back to
  its pure-Python parser), so the zip works on x86_64 and Graviton alike.

The zips are deterministic (sorted entries, fixed timestamps and modes): the same sources
give the same bytes, so :func:`content_hash` names their S3 keys and an unchanged library is
never uploaded twice.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path, PurePosixPath

from demandcast import config
from demandcast.errors import UserError

LIBRARY = "demandcast"
# The cluster provides Spark itself: never ship these.
PROVIDED = {"pyspark", "py4j"}
_EPOCH = (1980, 1, 1, 0, 0, 0)
_COMPILED = (".so", ".pyd", ".dylib", ".dll")
_KEPT_METADATA = ("METADATA", "entry_points.txt", "top_level.txt")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def write_zip(dest: Path, entries: Iterable[tuple[str, Path | bytes]]) -> Path:
    """A zip of ``(name in the zip, file or bytes)`` pairs whose bytes depend on the contents only."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, path in sorted(dict(entries).items()):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path if isinstance(path, bytes) else path.read_bytes())
    return dest


def content_hash(path: Path, length: int = 16) -> str:
    """The first ``length`` hex digits of the file's SHA-256."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]


def library_sources(root: Path | None = None) -> Path:
    """``src/demandcast`` of the project (what the bento ships too)."""
    src = (root or config.root()) / "src" / LIBRARY
    if not (src / "__init__.py").is_file():
        raise UserError(f"{src} is missing: run from the project's root (or set {config.ROOT_ENV})")
    return src


def library_zip(dest: Path, root: Path | None = None) -> Path:
    src = library_sources(root)
    files = (p for p in src.rglob("*.py") if "__pycache__" not in p.parts)
    return write_zip(dest, ((p.relative_to(src.parent).as_posix(), p) for p in files))


def closure(names: Iterable[str]) -> list[metadata.Distribution]:
    """The installed distributions ``names`` need (their requirements whose markers hold here,
    recursively), less what the cluster provides, sorted by name."""
    found: dict[str, metadata.Distribution] = {}
    todo = [str(n) for n in names]
    while todo:
        name = _normalize(todo.pop())
        if name in found or name in PROVIDED:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise UserError(f"spark.python_deps: {name!r} is not installed here (uv sync)") from None
        found[name] = dist
        for req in dist.requires or []:
            todo.extend(_needed(req))
    return [found[n] for n in sorted(found)]


def _needed(requirement: str) -> list[str]:
    from packaging.requirements import Requirement

    req = Requirement(requirement)
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        return []
    return [req.name]


def distribution_files(dist: metadata.Distribution) -> list[tuple[str, Path]]:
    """A distribution's importable files and package data, with its metadata; no compiled
    extensions, byte code or scripts installed outside site-packages."""
    entries = []
    for rel in dist.files or []:
        posix = PurePosixPath(str(rel))
        parts = posix.parts
        if parts[0] == ".." or "__pycache__" in parts or posix.suffix in (".pyc", *_COMPILED):
            continue
        if parts[0].endswith(".dist-info") and posix.name not in _KEPT_METADATA:
            continue
        path = Path(dist.locate_file(rel))
        if path.is_file():
            entries.append((posix.as_posix(), path))
    if not any(name.endswith(".py") for name, _ in entries):
        raise UserError(f"spark.python_deps: {dist.metadata['Name']} has no pure-Python modules, so it "
                        "cannot ship in the deps zip; the cluster's image must provide it")
    return entries


def package_markers(names: Iterable[str]) -> list[tuple[str, bytes]]:
    """Empty ``__init__.py`` files for folders of modules inside a regular package that have
    none (hydra's ``grammar/gen``): Python's zipimport cannot import implicit namespace
    packages, and below a regular package no other distribution can share the folder."""
    names = set(names)
    folders = {str(PurePosixPath(n).parent) for n in names if n.endswith(".py") and "/" in n}
    markers = []
    for folder in sorted(folders):
        top = folder.split("/")[0]
        if f"{top}/__init__.py" in names and f"{folder}/__init__.py" not in names:
            markers.append((f"{folder}/__init__.py", b""))
    return markers


def deps_zip(dest: Path, names: Iterable[str]) -> tuple[Path, list[str]]:
    """The deps zip and the ``name==version`` of every distribution in it."""
    dists = closure(names)
    entries: list[tuple[str, Path | bytes]] = [entry for dist in dists for entry in distribution_files(dist)]
    entries += package_markers(name for name, _ in entries)
    pins = [f"{dist.metadata['Name']}=={dist.version}" for dist in dists]
    return write_zip(dest, entries), pins
