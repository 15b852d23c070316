"""Sign-in on the wire (internal API, called by the gateway)."""

from __future__ import annotations

from litestar.params import FromPath
from pydantic import Field

from portal_access.wire import Body, Reply, Timestamp


class SigninRequest(Body):
    portal_key: FromPath[str] = Field(min_length=1, max_length=128)
    email: str = Field(max_length=320)
    client_ip: str = Field(min_length=1, max_length=64)


class VerifyRequest(Body):
    token: str | None = Field(default=None, max_length=128)
    pending_id: str | None = Field(default=None, max_length=128)
    code: str | None = Field(default=None, max_length=64)


class SigninAccepted(Reply):
    """The same answer whether or not the address has access."""

    pending_id: str
    expires_at: Timestamp
