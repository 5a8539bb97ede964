"""The features stage on EMR: package, upload, submit, wait, and sync the result back.

Everything lives under ``s3://<spark.bucket>/<spark.prefix>/``::

    code/<sha256>/demandcast.zip   the library (--py-files)
    code/<sha256>/deps.zip         its pure-Python dependencies (--py-files)
    code/<sha256>/features.py      the entry point: stages/features.py, unchanged
    data/<data.dvc md5>/           the raw files the stage reads, once per data version
    runs/<run key>/params.yaml     the configuration the stage runs with (--files)
    runs/<run key>/features/       the result, in the local layout
    logs/                          EMR Serverless job logs

The run key hashes the code, dependencies, entry point, the stage's configuration (``data``,
``features``, ``spark``) and the data version: a second run of the same inputs finds the
complete result (its ``_meta/manifest.json``, written last) and only syncs it back, unless
``spark.reuse_result`` is false.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from omegaconf import OmegaConf

from demandcast import config
from demandcast.cloud import aws, bundle, data_sync, emr
from demandcast.errors import UserError

ENTRY_POINT = Path("stages") / "features.py"
RESULT = "features"
META_MANIFEST = "_meta/manifest.json"


def raw_files(data_dir: Path) -> list[str]:
    """The raw files the features stage reads (its Spark schemas name them); an optional one
    (the promotion plan) only when the data has it."""
    from demandcast.features.spark_engine import OPTIONAL, SCHEMAS

    return sorted(n for n in SCHEMAS if n not in OPTIONAL or (data_dir / n).is_file())


def stage_code(cfg, tmp: Path, s3, bucket: str, prefix: str, echo) -> dict[str, str]:
    """Build the zips and upload them and the entry point unless there already; their S3 URIs and hashes."""
    root = config.root()
    entry = root / ENTRY_POINT
    if not entry.is_file():
        raise UserError(f"{entry} is missing: run from the project root")
    library = bundle.library_zip(tmp / "demandcast.zip", root)
    deps, pins = bundle.deps_zip(tmp / "deps.zip", cfg.spark.get("python_deps") or [])
    staged, fresh = {}, []
    for name, path in (("library", library), ("deps", deps), ("entry", entry)):
        digest = bundle.content_hash(path)
        key = f"{prefix}/code/{digest}/{path.name}"
        if data_sync.upload_once(s3, path, bucket, key):
            fresh.append(path.name)
        staged[name], staged[f"{name}_hash"] = f"s3://{bucket}/{key}", digest
    echo(f"features: code {'uploaded: ' + ', '.join(fresh) if fresh else 'unchanged on S3'} "
         f"(deps: {', '.join(pins)})")
    return staged


def _stage_params(cfg) -> str:
    """What the features stage reads (its params in dvc.yaml): a change elsewhere is the same run."""
    return OmegaConf.to_yaml({"data": cfg.data, "features": cfg.features, "spark": cfg.spark})


def run_key(staged: dict[str, str], params_text: str, data_version: str) -> str:
    parts = [staged["library_hash"], staged["deps_hash"], staged["entry_hash"], params_text, data_version]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def fetch_result(s3, bucket: str, prefix: str, out: Path) -> dict:
    """The result under ``prefix`` into ``out`` (replaced whole, only once all of it arrived),
    its Parquet files rewritten byte-stable (:mod:`demandcast.features.stable_parquet`) as a
    local run's are."""
    from demandcast.features import stable_parquet

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.incoming-", dir=out.parent) as tmp:
        incoming = Path(tmp) / out.name
        written = data_sync.download_tree(s3, bucket, prefix, incoming)
        if "_SUCCESS" not in written or META_MANIFEST not in written:
            raise UserError(f"s3://{bucket}/{prefix}/ holds no complete feature table ({len(written)} "
                            "objects, no _SUCCESS or _meta/manifest.json): the job did not finish writing")
        stable_parquet.rewrite_tree(incoming)
        data_sync.replace_dir(incoming, out)
    return json.loads((out / META_MANIFEST).read_text())


def run(cfg, echo: Callable[[str], None] = print) -> dict:
    """The features stage on ``spark.engine``; returns the manifest, as a local run does."""
    sc = cfg.spark
    engine_name = str(sc.engine)
    if engine_name not in emr.ENGINES:
        raise UserError(f"spark.engine={engine_name!r}: use one of local, {', '.join(emr.ENGINES)}")
    bucket, prefix = str(sc.get("bucket") or ""), str(sc.get("prefix") or "demandcast").strip("/")
    root = config.root()
    out = Path(str(cfg.paths.artifacts)) / RESULT
    with aws.errors(f"features on {engine_name}"):
        session = aws.session(sc.get("region"), sc.get("profile"))
        s3 = aws.client(session, "s3")
        aws.check_bucket(s3, bucket)
        engine = emr.ENGINES[engine_name](session, sc, f"s3://{bucket}/{prefix}/logs/")
        engine.check()
        with tempfile.TemporaryDirectory(prefix="demandcast-emr-") as tmp:
            staged = stage_code(cfg, Path(tmp), s3, bucket, prefix, echo)
            data_uri, uploaded = data_sync.sync_data(s3, root, Path(str(cfg.paths.data)),
                                                     raw_files(Path(str(cfg.paths.data))),
                                                     bucket, prefix)
            echo(f"features: raw data {'uploaded to' if uploaded else 'already at'} {data_uri}/")
            params_text = OmegaConf.to_yaml(cfg)
            key = run_key(staged, _stage_params(cfg), data_uri.rsplit("/", 1)[-1])
            run_prefix = f"{prefix}/runs/{key}"
            result_prefix = f"{run_prefix}/{RESULT}"
            stored = data_sync.exists(s3, bucket, f"{result_prefix}/{META_MANIFEST}")
            if stored and sc.get("reuse_result", True):
                echo(f"features: s3://{bucket}/{result_prefix}/ already holds the result of these inputs")
            else:
                s3.put_object(Bucket=bucket, Key=f"{run_prefix}/params.yaml", Body=params_text.encode())
                job = emr.Job(name=f"demandcast-features-{key[:8]}", entry_point=staged["entry"],
                              arguments=[f"paths.data={data_uri}", f"paths.artifacts=s3://{bucket}/{run_prefix}"],
                              py_files=[staged["library"], staged["deps"]],
                              files=[f"s3://{bucket}/{run_prefix}/params.yaml"],
                              conf={str(k): str(v) for k, v in (sc.get("submit") or {}).items()})
                submit_and_wait(engine, job, s3, sc, echo)
        manifest = fetch_result(s3, bucket, result_prefix, out)
    echo(f"features: s3://{bucket}/{result_prefix}/ -> {out}/")
    return manifest


def submit_and_wait(engine, job: emr.Job, s3, sc, echo) -> str:
    job_id = engine.submit(job)
    echo(f"features: submitted {engine.kind} {job_id} ({job.name})")
    try:
        emr.wait(engine, job_id, timeout_s=float(sc.get("timeout_minutes") or 120) * 60,
                 poll_s=float(sc.get("poll_seconds") or 30), echo=echo)
    except emr.JobFailed as failed:
        location = engine.log_location(job_id)
        if location is None:
            raise UserError(f"{failed}\nthe cluster has no LogUri: the step's log is on its primary node, "
                            f"/mnt/var/log/hadoop/steps/{job_id}/") from None
        wait_s = float(sc.get("log_wait_seconds") or 0)
        logs = [(uri, emr.tail(text)) for uri, text in engine.logs(s3, job_id, wait_s)]
        logs = [(uri, text) for uri, text in logs if text.strip()]
        if not logs:
            raise UserError(f"{failed}\nno driver log under {location} yet: EMR uploads logs every few "
                            "minutes, look there later") from None
        shown = "\n".join(f"--- last lines of {uri} ---\n{text}" for uri, text in logs)
        raise UserError(f"{failed}\n{shown}") from None
    return job_id
