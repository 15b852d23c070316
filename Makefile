# The two commands of the README: `make dev` and `make test`. Everything they need is
# installed into .cache/ (ignored) or the usual tool caches, and reused on the next run.

SHELL := /bin/bash
CACHE := .cache
UV_VERSION := 0.13.9
UV := $(CACHE)/tools/bin/uv
RUN := $(UV) run --locked --no-sync
PACKAGES := contracts/src kit/src services/access/src services/billing-view/src services/notifier/src \
            services/gateway/src deploy/local/src tools/billing-simulator/src \
            deploy/sizing.py deploy/k8s/kafka_resources.py \
            deploy/k8s/components/monitoring/render.py bench tools/check_script_imports.py

.PHONY: dev test sync system stack-install lint typecheck unit-and-integration schemas clean-stack

$(UV):
	python3 -m venv $(CACHE)/tools
	$(CACHE)/tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

sync: $(UV)
	$(UV) sync --locked --all-packages --quiet

# Debian packages the stack and the browser tests need (Java, Maven, Go are on the machine).
system:
	@bash deploy/local/ensure-system.sh

stack-install: sync
	$(RUN) portal-localstack install

# `make dev OBSERVABILITY=1` also runs Prometheus and Jaeger v2 (built from the Go module proxy
# on first use, which takes minutes) and prints their URLs.
dev: system sync
	$(RUN) portal-dev $(if $(OBSERVABILITY),--observability)

lint: sync
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports
	$(RUN) python tools/check_script_imports.py

typecheck: sync
	$(RUN) mypy $(PACKAGES) tests

schemas: sync
	$(RUN) portal-contracts export-schemas

# Two workers, each with its own local stack and portal (their session fixtures): the
# suites wait on real servers far more than they compute, so two cores do twice the work.
# A module stays on one worker (`loadfile`): module fixtures are started once.
test: system stack-install lint typecheck
	$(RUN) pytest -n 2 --dist loadfile

clean-stack:
	rm -rf $(CACHE)/stack
