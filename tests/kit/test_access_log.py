"""The access log: one line per request with the route template (never the raw path, which
carries portal keys and tokens), method, status, duration and a trace id that every line of
the request carries and the response returns."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.params import FromPath
from litestar.testing import TestClient

from portal_kit.access_log import TRACE_HEADER, AccessLog
from portal_kit.observability import JsonFormatter
from portal_kit.ops import ops_routes

KEY = "Zk3pQ9vLr2Xw8Yt5Nb7Mc1Hd4Jf6Gs0Aa2Ee9Uu3Ii"
TOKEN = "Tq8Wm2Rn5Vb7Xc1Zl4Kp9Jh3Gf6Ds0Ay5Eu8Io2Pw"
REPO = Path(__file__).resolve().parents[2]


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter("test"))
        self.entries: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.entries.append(json.loads(self.format(record)))

    def access(self) -> list[dict[str, Any]]:
        return [e for e in self.entries if e["logger"] == "http.access"]


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


@get("/p/{key:str}/verify/{token:str}", sync_to_thread=False)
def verify(key: FromPath[str], token: FromPath[str]) -> dict[str, str]:
    logging.getLogger("portal.test").info("verifying")
    return {"ok": "yes"}


@get("/boom", sync_to_thread=False)
def boom() -> None:
    raise RuntimeError("handler failed")


async def ready() -> bool:
    return True


def client() -> TestClient[Litestar]:
    app = Litestar(
        route_handlers=[verify, boom, *ops_routes({"ok": ready})],
        plugins=[AccessLog()],
        logging_config=None,
    )
    return TestClient(app, raise_server_exceptions=False)


def test_one_line_per_request_with_the_route_template_and_no_path_values(lines: Lines) -> None:
    with client() as http:
        answer = http.get(f"/p/{KEY}/verify/{TOKEN}")
    assert answer.status_code == 200
    [entry] = lines.access()
    assert entry["route"] == "/p/{key}/verify/{token}"
    assert entry["http_method"] == "GET"
    assert entry["status"] == 200
    assert isinstance(entry["duration_ms"], float)
    assert entry["duration_ms"] >= 0
    assert entry["level"] == "info"
    text = json.dumps(lines.entries)
    assert KEY not in text
    assert TOKEN not in text


def test_the_trace_id_is_returned_and_carried_by_every_line_of_the_request(
    lines: Lines,
) -> None:
    with client() as http:
        answer = http.get(f"/p/{KEY}/verify/{TOKEN}")
        other = http.get(f"/p/{KEY}/verify/{TOKEN}")
    trace_id = answer.headers[TRACE_HEADER]
    assert re.fullmatch("[0-9a-f]{32}", trace_id)
    assert other.headers[TRACE_HEADER] != trace_id
    mine = [e for e in lines.entries if e.get("trace_id") == trace_id]
    assert [e["logger"] for e in mine] == ["portal.test", "http.access"]


def test_a_w3c_traceparent_trace_id_is_reused(lines: Lines) -> None:
    trace, zeros, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "0" * 32, "00f067aa0ba902b7"
    with client() as http:
        answer = http.get("/healthz", headers={"traceparent": f"00-{trace}-{parent}-01"})
        invalid = http.get("/healthz", headers={"traceparent": f"00-{zeros}-{parent}-01"})
    assert answer.headers[TRACE_HEADER] == trace
    assert invalid.headers[TRACE_HEADER] != zeros
    # Probes are logged below INFO: they would drown the requests people make.
    first = lines.access()[0]
    assert (first["route"], first["level"], first["trace_id"]) == ("/healthz", "debug", trace)


def test_unmatched_and_failing_requests_are_logged_without_their_path(lines: Lines) -> None:
    with client() as http:
        missing = http.get(f"/p/{KEY}")
        failed = http.get("/boom")
    assert (missing.status_code, failed.status_code) == (404, 500)
    assert [(e["route"], e["status"]) for e in lines.access()] == [(None, 404), ("/boom", 500)]
    assert KEY not in json.dumps(lines.entries)


@pytest.mark.parametrize(
    "app_py",
    [
        "services/access/src/portal_access/app.py",
        "services/billing-view/src/billing_view/app.py",
        "services/gateway/src/portal_gateway/app.py",
        "services/notifier/src/portal_notifier/app.py",
    ],
)
def test_every_service_app_logs_its_requests(app_py: str) -> None:
    assert re.search(r"plugins=\[AccessLog\(\)[,\]]", (REPO / app_py).read_text())
