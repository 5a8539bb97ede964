"""Moving files between the project and S3: the raw data once per version, code by content
hash, and a job's result back into the exact local layout.

The raw data goes to ``<prefix>/data/<md5 of data.dvc>/`` with a ``_COMPLETE.json`` written
last (file names, sizes and md5s); a later run finding that marker skips the upload. The
local files must be the version data.dvc names: their md5s are checked against DVC's own
listing of that version (``.dvc/cache/files/md5/..../<hash>.dir``) when the cache holds it,
and against the marker's, so a ``data/`` changed without ``dvc add`` never hides under an
old version's key.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import yaml

from demandcast.errors import UserError

MARKER = "_COMPLETE.json"
# Objects a Hadoop or EMRFS writer may leave that a local Spark run does not write.
_NOT_LAYOUT = ("_$folder$", "/")


def tracked_version(root: Path) -> str:
    """The md5 of ``data/`` recorded in ``data.dvc``."""
    path = root / "data.dvc"
    if not path.is_file():
        raise UserError(f"{path} is missing: track the raw data first (dvc add data), so its copy on S3 "
                        "is keyed by the version it holds")
    outs = (yaml.safe_load(path.read_text()) or {}).get("outs") or [{}]
    md5 = str(outs[0].get("md5", ""))
    if not md5.endswith(".dir"):
        raise UserError(f"{path} names no directory version (outs[0].md5 {md5!r}): run dvc add data")
    return md5.removesuffix(".dir")


def md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dvc_listing(root: Path, version: str) -> dict[str, str] | None:
    """DVC's ``relpath -> md5`` for that data version, if the local cache holds it."""
    listing = root / ".dvc" / "cache" / "files" / "md5" / version[:2] / f"{version[2:]}.dir"
    if not listing.is_file():
        return None
    return {entry["relpath"]: entry["md5"] for entry in json.loads(listing.read_text())}


def exists(s3, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def upload_once(s3, path: Path, bucket: str, key: str) -> bool:
    """Upload unless the key exists (keys carry a content hash); True when uploaded."""
    if exists(s3, bucket, key):
        return False
    s3.upload_file(str(path), bucket, key)
    return True


def sync_data(s3, root: Path, data_dir: Path, names: list[str], bucket: str, prefix: str) -> tuple[str, bool]:
    """Copy ``names`` from ``data_dir`` to ``s3://bucket/<prefix>/data/<version>/`` unless that
    version is complete there already; return the S3 folder and whether anything was uploaded."""
    version = tracked_version(root)
    base = f"{prefix}/data/{version}"
    missing = [n for n in names if not (data_dir / n).is_file()]
    if missing:
        raise UserError(f"{data_dir} lacks {', '.join(missing)}: get the data first (dvc pull data.dvc)")
    local = {n: md5(data_dir / n) for n in names}
    expected = dvc_listing(root, version)
    complete = exists(s3, bucket, f"{base}/{MARKER}")
    if complete:
        stored = json.loads(s3.get_object(Bucket=bucket, Key=f"{base}/{MARKER}")["Body"].read())
        expected = expected or {n: f["md5"] for n, f in stored["files"].items()}
    _check_version(local, expected, version, data_dir)
    uri = f"s3://{bucket}/{base}"
    if complete:
        return uri, False
    for name in names:
        s3.upload_file(str(data_dir / name), bucket, f"{base}/{name}")
    marker = {"version": version, "files": {n: {"md5": local[n], "bytes": (data_dir / n).stat().st_size}
                                             for n in names}}
    s3.put_object(Bucket=bucket, Key=f"{base}/{MARKER}", Body=json.dumps(marker, indent=2).encode())
    return uri, True


def _check_version(local: dict[str, str], expected: dict[str, str] | None, version: str,
                   data_dir: Path) -> None:
    if expected is None:
        return
    changed = sorted(n for n, digest in local.items() if expected.get(n) not in (None, digest))
    if changed:
        raise UserError(f"{data_dir}/{changed[0]} differs from data version {version} in data.dvc "
                        f"({len(changed)} file(s) changed): record the new version with `dvc add data` "
                        "(or restore it with `dvc checkout data.dvc`) before running on EMR")


def download_tree(s3, bucket: str, prefix: str, dest: Path) -> list[str]:
    """Every object under ``prefix/`` into ``dest`` at its relative path; the paths written."""
    prefix = prefix.rstrip("/") + "/"
    written = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            rel = obj["Key"][len(prefix):]
            if not rel or rel.endswith(_NOT_LAYOUT):
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, obj["Key"], str(target))
            written.append(rel)
    return sorted(written)


def replace_dir(new: Path, out: Path) -> None:
    """Put ``new`` where ``out`` is, removing the old one only once the new one is in place."""
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.is_symlink() or out.is_file():
        out.unlink()
    elif out.exists():
        out.rename(old)
    new.rename(out)
    shutil.rmtree(old, ignore_errors=True)
