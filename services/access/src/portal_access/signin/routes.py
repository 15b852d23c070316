"""HTTP edges of sign-in (internal API, called by the gateway)."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from portal_access.sessions.schemas import SessionStartedReply
from portal_access.signin.schemas import SigninAccepted, SigninRequest, VerifyRequest
from portal_access.signin.service import SigninService


class InternalSignin(Controller):
    path = "/internal/v1/signin"
    tags = ["internal"]

    @post("/request", status_code=202, summary="Send a sign-in link and code (or a decoy)")
    async def signin_request(
        self, signin: NamedDependency[SigninService], data: JSONBody[SigninRequest]
    ) -> SigninAccepted:
        return await signin.request(data.portal_key, data.email, data.client_ip)

    @post("/verify", status_code=200, summary="Redeem the link's token, or the code, once")
    async def signin_verify(
        self, signin: NamedDependency[SigninService], data: JSONBody[VerifyRequest]
    ) -> SessionStartedReply:
        started = await signin.verify(data.token, data.pending_id, data.code)
        return SessionStartedReply.of(started)
