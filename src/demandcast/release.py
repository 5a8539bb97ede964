"""Releasing the serving image: build, label, tag and push it.

``make release REGISTRY=<host>[/<namespace>]`` (``uv run demandcast release --registry ...``)
builds the top-level ``Dockerfile`` with buildah from the packaged bento
(``artifacts/package/demandcast.bento``, from ``dvc pull package`` or ``dvc repro package``),
labels it with where it comes from and tags it twice, then pushes both tags:

* ``<registry>/demandcast:<git sha>``: the commit the image was built from;
* ``<registry>/demandcast:model-v<N>``: the registry version of the model it serves.

Labels: the OCI ``org.opencontainers.image.revision`` / ``version`` / ``source``, and
``io.demandcast.model.*`` (name, version, run, training commit), ``io.demandcast.data.version``
(data.dvc's md5 the model was trained on), ``io.demandcast.features.spec_hash``,
``io.demandcast.git.sha`` -- read from the model's own metadata inside the bento, never
typed in. Logging in is the caller's: ``aws-actions/amazon-ecr-login`` in the release
workflow, ``buildah login`` by hand (buildah reads ``~/.docker/config.json`` too).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from demandcast import config
from demandcast.errors import UserError

IMAGE = "demandcast"
BENTO = Path("artifacts") / "package" / "demandcast.bento"  # also the Dockerfile's ARG BENTO
MODEL_METADATA = "metadata.json"  # the serving bundle's provenance (demandcast.serving.bundle)


def bento_metadata(archive: Path) -> dict:
    """The packaged model's provenance, from the bundle inside the bento archive."""
    if not archive.is_file():
        raise UserError(f"{archive} is missing: get the packaged bento first (uv run dvc pull package, "
                        "or uv run dvc repro package)")
    with tarfile.open(archive) as tar:
        for member in tar:
            parts = member.name.removeprefix("./").split("/")
            if parts[0] == "models" and parts[-1] == MODEL_METADATA and member.isfile():
                return json.loads(tar.extractfile(member).read())
    raise UserError(f"{archive} holds no models/*/{MODEL_METADATA}: not a bento made by the package stage")


def git_sha(root: Path) -> str:
    sha = os.environ.get("GITHUB_SHA")
    if sha:
        return sha
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise UserError(f"{root} is not a git checkout: the image is tagged with its commit")
    return done.stdout.strip()


def labels(meta: dict, sha: str) -> dict[str, str]:
    source = os.environ.get("GITHUB_REPOSITORY")
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    found = {
        "org.opencontainers.image.title": IMAGE,
        "org.opencontainers.image.revision": sha,
        "org.opencontainers.image.version": f"model-v{meta['model_version']}",
        "io.demandcast.git.sha": sha,
        "io.demandcast.model.name": str(meta["model_name"]),
        "io.demandcast.model.version": str(meta["model_version"]),
        "io.demandcast.model.run_id": str(meta.get("run_id", "")),
        "io.demandcast.model.git_commit": str(meta.get("git_commit", "")),
        "io.demandcast.data.version": str(meta["data_version"]),
        "io.demandcast.features.spec_hash": str(meta.get("feature_spec_hash", "")),
    }
    if source:
        found["org.opencontainers.image.source"] = f"{server}/{source}"
    return found


def _buildah(*args: str, **kwargs) -> subprocess.CompletedProcess:
    if shutil.which("buildah") is None:
        raise UserError("buildah is not installed (Debian/Ubuntu: apt-get install buildah)")
    return subprocess.run(["buildah", *args], text=True, **kwargs)


def build(root: Path, bento: Path, tags: list[str], label_map: dict[str, str],
          base_image: str | None) -> None:
    """``buildah bud`` of the top-level Dockerfile in a context holding only the bento."""
    with tempfile.TemporaryDirectory(prefix="demandcast-release-") as tmp:
        target = Path(tmp) / BENTO
        target.parent.mkdir(parents=True)
        try:
            os.link(bento, target)
        except OSError:
            shutil.copy2(bento, target)
        # The docker format, since OCI's has no HEALTHCHECK (buildah would drop it).
        args = ["bud", "--format", "docker", "-f", str(root / "Dockerfile")]
        if base_image:
            args += ["--build-arg", f"BASE_IMAGE={base_image}"]
        for key, value in label_map.items():
            args += ["--label", f"{key}={value}"]
        for tag in tags:
            args += ["-t", tag]
        done = _buildah(*args, tmp)
        if done.returncode != 0:
            raise UserError(f"buildah bud failed (exit {done.returncode}): see its output above")


def push(tag: str, tls_verify: bool) -> str:
    """Push ``tag``; its manifest digest."""
    with tempfile.TemporaryDirectory() as tmp:
        digest_file = Path(tmp) / "digest"
        done = _buildah("push", f"--tls-verify={str(tls_verify).lower()}", "--digestfile", str(digest_file),
                        tag, f"docker://{tag}", capture_output=True)
        if done.returncode != 0:
            raise UserError(f"pushing {tag} failed: {done.stderr.strip()[-1500:]}\nlog in to the registry "
                            "first (ECR: aws ecr get-login-password | buildah login --username AWS "
                            "--password-stdin <registry>)")
        return digest_file.read_text().strip()


def release(registry: str, bento: Path | None = None, base_image: str | None = None, tls_verify: bool = True,
            summary: Path | None = None) -> dict:
    """Build, tag and push; returns (and writes to ``summary``) what was pushed."""
    root = config.root()
    bento = bento or root / BENTO
    meta = bento_metadata(bento)
    sha = git_sha(root)
    repository = f"{registry.rstrip('/')}/{IMAGE}"
    tags = [f"{repository}:{sha}", f"{repository}:model-v{meta['model_version']}"]
    label_map = labels(meta, sha)
    print(f"release: building {', '.join(tags)} from {bento}", flush=True)
    build(root, bento, tags, label_map, base_image)
    digests = {tag: push(tag, tls_verify) for tag in tags}
    if len(set(digests.values())) != 1:
        raise UserError(f"the tags were pushed with different digests: {digests}")
    digest = digests[tags[0]]
    result = {"repository": repository, "tags": tags, "digest": digest, "image": f"{repository}@{digest}",
              "labels": label_map}
    summary = summary or root / "artifacts" / "release" / "release.json"
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text(json.dumps(result, indent=2) + "\n")
    print(f"release: pushed {result['image']} as {', '.join(t.rsplit(':', 1)[1] for t in tags)}")
    return result
