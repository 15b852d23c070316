"""`/readyz`: which checks decide readiness, and which are only reported."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from portal_kit.ops import ReadinessCheck, ops_routes


async def answers() -> bool:
    return True


async def away() -> bool:
    raise ConnectionError("refused")


def readyz(
    checks: dict[str, ReadinessCheck], required: tuple[str, ...] | None = None
) -> tuple[int, object]:
    app = Litestar(route_handlers=ops_routes(checks, required=required))
    with TestClient(app) as client:
        answer = client.get("/readyz")
    return answer.status_code, answer.json()


def test_every_check_decides_by_default() -> None:
    status, body = readyz({"mongodb": answers, "kafka": away})
    assert status == 503
    assert body == {"status": "not ready", "checks": {"mongodb": True, "kafka": False}}


def test_a_check_not_required_is_reported_without_taking_the_process_out() -> None:
    status, body = readyz({"access": answers, "kafka": away}, required=())
    assert status == 200
    assert body == {"status": "degraded", "checks": {"access": True, "kafka": False}}
    assert readyz({"access": answers}, required=())[1] == {
        "status": "ready",
        "checks": {"access": True},
    }


def test_a_required_check_still_decides() -> None:
    assert readyz({"mongodb": away, "kafka": answers}, required=("mongodb",))[0] == 503


def test_a_required_name_without_a_check_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="kafka"):
        ops_routes({"mongodb": answers}, required=("kafka",))
