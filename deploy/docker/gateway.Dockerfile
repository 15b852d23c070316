# syntax=docker/dockerfile:1
# portal-gateway: the public web portal, the public JSON API and the admin API edge.
# Build from the repository root (the uv workspace lock lives there):
#   docker build -f deploy/docker/gateway.Dockerfile -t portal-gateway .

FROM python:3.11.14-slim-trixie AS builder
# The final stage copies the virtualenv as it is: same interpreter path, bytecode compiled
# once here so that a read-only root filesystem never needs to write any.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
# uv resolves the whole workspace from the lock, so every member's pyproject.toml must be
# present; only this service, portal-contracts and portal-kit are installed.
COPY pyproject.toml uv.lock ./
COPY contracts/pyproject.toml contracts/
COPY kit/pyproject.toml kit/
COPY services/access/pyproject.toml services/access/
COPY services/billing-view/pyproject.toml services/billing-view/
COPY services/notifier/pyproject.toml services/notifier/
COPY services/gateway/pyproject.toml services/gateway/
COPY deploy/local/pyproject.toml deploy/local/
COPY tools/billing-simulator/pyproject.toml tools/billing-simulator/
# Third-party dependencies first: this layer survives source-only changes.
RUN uv sync --locked --no-dev --no-install-workspace --package portal-gateway
COPY contracts/ contracts/
COPY kit/ kit/
COPY services/gateway/ services/gateway/
RUN uv sync --locked --no-dev --no-editable --package portal-gateway

FROM python:3.11.14-slim-trixie
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8000
RUN groupadd --system --gid 10001 portal \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin portal
COPY --from=builder /app/.venv /app/.venv
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# The same command `make dev` runs; Kubernetes probes /healthz and /readyz, so no HEALTHCHECK.
ENTRYPOINT ["portal-gateway", "run"]
