"""Every portal API answers errors with one body shape, whatever raised them."""

from __future__ import annotations

from typing import Annotated

from litestar import Litestar, get, post
from litestar.params import Body
from litestar.testing import AsyncTestClient
from pydantic import BaseModel

from portal_kit.errors import (
    ConflictError,
    NotFoundError,
    RateLimitedError,
    json_error_handlers,
)


class Thing(BaseModel):
    name: str


@get("/missing")
async def missing() -> None:
    raise NotFoundError("invoice not found")


@get("/conflict")
async def conflict() -> None:
    raise ConflictError("already granted", extra={"conflicting_rule": {"kind": "domain"}})


@get("/limited")
async def limited() -> None:
    raise RateLimitedError("slow down", retry_after_seconds=12)


@post("/things")
async def things(data: Annotated[Thing, Body()]) -> Thing:
    return data


APP = Litestar([missing, conflict, limited, things], exception_handlers=json_error_handlers())


async def test_typed_errors_carry_status_body_and_headers() -> None:
    async with AsyncTestClient(APP) as client:
        missing_response = await client.get("/missing")
        assert missing_response.status_code == 404
        assert missing_response.json() == {"error": "not_found", "message": "invoice not found"}
        conflict_response = await client.get("/conflict")
        assert conflict_response.status_code == 409
        assert conflict_response.json()["conflicting_rule"] == {"kind": "domain"}
        limited_response = await client.get("/limited")
        assert limited_response.status_code == 429
        assert limited_response.headers["retry-after"] == "12"


async def test_framework_errors_use_the_same_shape() -> None:
    async with AsyncTestClient(APP) as client:
        invalid = await client.post("/things", json={"name": 3})
        assert invalid.status_code == 400
        assert invalid.json()["error"] == "invalid"
        assert invalid.json()["fields"] == {"name": "Input should be a valid string"}
        unknown = await client.get("/nowhere")
        assert unknown.status_code == 404
        assert unknown.json()["error"] == "not_found"
