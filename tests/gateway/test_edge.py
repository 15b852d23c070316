"""The edge's own rules without servers (issue 14, item 8): Retry-After on every 429, the
security headers and no-store on every answer, the cross-site rule."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar import Litestar, get
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template import TemplateConfig
from litestar.testing import TestClient

from portal_gateway.app import templates
from portal_gateway.errors import error_handlers
from portal_gateway.security import cross_site, security_headers_hook
from portal_gateway.settings import Settings
from portal_kit.errors import RateLimitedError

HOST = "portal.example"


@get(["/portal/limited", "/api/portal/v1/limited"])
async def limited() -> None:
    raise RateLimitedError("Too many tries. Try again in 2 minutes.", retry_after_seconds=120)


@get("/static/file.css", media_type="text/css")
async def static_file() -> str:
    return "body{}"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Litestar]]:
    settings = Settings()
    app = Litestar(
        route_handlers=[limited, static_file],
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(templates())),
        exception_handlers=error_handlers(settings),
        before_send=[security_headers_hook(settings.environment)],
    )
    with TestClient(app, base_url=f"http://{HOST}") as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/portal/limited", "/api/portal/v1/limited"])
def test_a_429_carries_retry_after_as_a_page_and_as_json(
    client: TestClient[Litestar], path: str
) -> None:
    answer = client.get(path)
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "120"
    assert "Try again in 2 minutes" in answer.text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nowhere", 404), ("POST", "/portal/limited", 405), ("GET", "/portal/limited", 429)],
)
def test_every_answer_carries_the_headers_and_no_store(
    client: TestClient[Litestar], method: str, path: str, status: int
) -> None:
    answer = client.request(method, path)
    assert answer.status_code == status
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "no-store"


def test_static_assets_stay_cacheable(client: TestClient[Litestar]) -> None:
    answer = client.get("/static/file.css")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "cache-control" not in answer.headers


@pytest.mark.parametrize(
    ("method", "origin", "fetch_site", "bearer", "refused"),
    [
        ("POST", "https://evil.example", None, False, True),
        ("PATCH", None, "cross-site", False, True),
        ("PUT", "https://other.portal.example", "same-site", False, True),
        ("POST", "null", "cross-site", False, True),
        # Our no-referrer policy makes browsers send `Origin: null` on our own forms.
        ("POST", "null", "same-origin", False, False),
        ("DELETE", "null", None, False, False),
        ("POST", "http://portal.example.evil.example", None, False, True),
        ("POST", f"https://{HOST}", "same-origin", False, False),
        ("POST", f"https://{HOST}:443", None, False, False),
        ("PUT", None, "none", False, False),
        ("POST", None, None, False, False),
        ("POST", "https://evil.example", "cross-site", True, False),
        ("GET", "https://evil.example", "cross-site", False, False),
    ],
)
def test_cross_site_rule(
    method: str, origin: str | None, fetch_site: str | None, bearer: bool, refused: bool
) -> None:
    assert cross_site(method, HOST, origin, fetch_site, bearer) is refused
