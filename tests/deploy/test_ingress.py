"""The Ingress routes the gateway's public pages and APIs only: the ops endpoints, the API's
OpenAPI documents and the dev mailbox stay inside the cluster."""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest
from litestar import Router

from portal_access.portals.routes import AdminPortal
from portal_access.sessions.routes import AdminSessions
from portal_gateway.app import create_app
from portal_gateway.settings import Settings
from tests.deploy.conftest import OVERLAYS

INTERNAL = (
    "/metrics",
    "/healthz",
    "/readyz",
    "/dev/mailbox",
    *(
        f"/api/{api}/v1/{document}"
        for api in ("portal", "admin")
        for document in ("docs", "schema", "openapi.json", "openapi.yaml")
    ),
)
ADMIN_RELAY = "/api/admin/v1"


def _segments(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def routed(paths: list[dict[str, Any]], request_path: str) -> bool:
    """Kubernetes' matching: Exact compares the path, Prefix whole `/` segments."""
    for rule in paths:
        if rule["pathType"] == "Exact" and rule["path"] == request_path:
            return True
        if rule["pathType"] == "Prefix":
            prefix = _segments(rule["path"])
            if _segments(request_path)[: len(prefix)] == prefix:
                return True
    return False


def ingress_paths(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    (ingress,) = [d for d in docs if d["kind"] == "Ingress"]
    return [path for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]


def test_the_matcher_follows_kubernetes_prefix_semantics() -> None:
    paths = [{"path": "/p", "pathType": "Prefix"}, {"path": "/", "pathType": "Exact"}]
    assert routed(paths, "/p/key/verify/t")
    assert routed(paths, "/")
    assert not routed(paths, "/portal")
    assert not routed(paths, "/metrics")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def public_routes() -> set[str]:
    """Every path the gateway serves (parameters filled in) except the internal ones."""
    nowhere = f"http://127.0.0.1:{_closed_port()}"
    settings = Settings(
        kafka_bootstrap=f"127.0.0.1:{_closed_port()}",
        access_url=nowhere,
        billing_view_url=nowhere,
        dev_mailbox_enabled=True,
    )
    app = create_app(settings)
    # The gateway relays the admin API to access as it is: the routes are access's.
    admin = Router(path="/", route_handlers=[AdminPortal, AdminSessions])
    served = [r.path for r in app.routes if not r.path.startswith(ADMIN_RELAY)]
    served += [r.path for r in admin.routes]
    paths = {re.sub(r"\{[^}]*\}", "x", path) for path in served}
    return {p for p in paths if not any(p == i or p.startswith(f"{i}/") for i in INTERNAL)}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_internal_endpoints_are_not_routed(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    paths = ingress_paths(rendered[overlay])
    exposed = [p for p in INTERNAL if routed(paths, p)]
    assert not exposed, f"{overlay}: the Ingress routes {exposed}"
    assert not routed(paths, "/unknown")
    assert not routed(paths, f"{ADMIN_RELAY}/unknown")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_public_route_of_the_gateway_is_routed(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    paths = ingress_paths(rendered[overlay])
    public = public_routes()
    assert {"/", "/p/x", "/portal", "/api/portal/v1/overview"} <= public
    missing = sorted(p for p in public if not routed(paths, p))
    assert not missing, f"{overlay}: public routes the Ingress does not route: {missing}"
