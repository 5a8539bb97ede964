# Serving image: the exported bento (`bentoml export`, artifacts/package/demandcast.bento)
# served by `bentoml serve` on port 3000, as a non-root user.
#
#   docker build -t demandcast:latest .
#   docker build --build-arg BASE_IMAGE=localhost/demandcast-base:py311 \
#                --build-arg BENTO=path/in/context/other.bento -t demandcast:latest .
#   docker run -p 3000:3000 demandcast:latest      # -e BENTOML_PORT=8080 to move the port
#
# BASE_IMAGE: any image with Python 3.11 as `python3` (with the venv module) and useradd:
# python:3.11-slim, or the local Debian base that tests/container_base.sh builds where no
# registry can be reached. The packages go into a virtual environment, so Debian's
# externally-managed system Python (PEP 668) is never touched.
ARG BASE_IMAGE=python:3.11-slim

# --- unpack: the bento archive (tar.xz) opened with Python's tarfile (no xz or tar needed).
# `bentoml export` keeps the 0700 modes of its temporary directories: make the bento
# readable by everyone (it stays owned by root, so the server cannot change its own code).
FROM ${BASE_IMAGE} AS unpack
ARG BENTO=artifacts/package/demandcast.bento
COPY ${BENTO} /tmp/demandcast.bento
RUN python3 -c 'import sys, tarfile; kw = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}; tarfile.open(sys.argv[1]).extractall(sys.argv[2], **kw)' /tmp/demandcast.bento /bento \
    && test -f /bento/bento.yaml \
    && test -f /bento/env/python/requirements.txt \
    && chmod -R a+rX,go-w /bento

# --- the serving image
FROM ${BASE_IMAGE}

ENV LANG=C.UTF-8 \
    LC_ALL=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    BENTO_PATH=/home/bentoml/bento \
    BENTOML_HOME=/home/bentoml/.bentoml \
    BENTOML_CONTAINERIZED=true \
    BENTOML_HOST=0.0.0.0 \
    BENTOML_PORT=3000 \
    DEMANDCAST_LOG_DIR=/home/bentoml/prediction-logs

# A fixed uid/gid, so volume permissions and runAsNonRoot/runAsUser are predictable.
RUN groupadd --gid 1034 bentoml \
    && useradd --no-log-init --uid 1034 --gid 1034 --create-home --shell /usr/sbin/nologin bentoml \
    && mkdir -p /home/bentoml/prediction-logs /home/bentoml/.bentoml \
    && chown bentoml:bentoml /home/bentoml/prediction-logs /home/bentoml/.bentoml \
    && python3 -m venv /opt/venv

# The packages first, so this layer is reused for as long as the bento's requirements.txt is
# unchanged; then the rest of the bento (code, models). requirements.txt names every package
# at uv.lock's version (bento/requirements.txt, `make bento-requirements`): --no-deps keeps
# pip from adding anything of its own choosing, and `pip check` fails a build whose list is
# incomplete, so two builds of one commit install the same packages.
COPY --from=unpack /bento/env/python/requirements.txt /home/bentoml/bento/env/python/requirements.txt
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps \
        -r /home/bentoml/bento/env/python/requirements.txt \
    && pip check
COPY --from=unpack /bento /home/bentoml/bento

USER 1034:1034
WORKDIR /home/bentoml

EXPOSE 3000

# 200 only once the model has loaded; stdlib urllib (slim images have no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('BENTOML_PORT', '3000') + '/readyz', timeout=4)"]

# Host and port come from BENTOML_HOST / BENTOML_PORT above (0.0.0.0:3000).
CMD ["bentoml", "serve", "/home/bentoml/bento"]
