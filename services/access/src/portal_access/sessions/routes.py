"""HTTP edges of sessions: validate and sign out (internal API), list and revoke (admin API)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter

from portal_access.api_keys.models import Principal
from portal_access.openapi import READ_ERRORS, WRITE_ERRORS
from portal_access.sessions.schemas import RevokedReply, SessionList, SessionReply, SessionToken
from portal_access.sessions.service import SessionService

BillGroupId = Annotated[str, Parameter(max_length=128)]


class InternalSessions(Controller):
    path = "/internal/v1/sessions"
    tags = ["internal"]

    @post("/validate", status_code=200, summary="The session of a token, its idle expiry moved on")
    async def validate(
        self, sessions: NamedDependency[SessionService], data: JSONBody[SessionToken]
    ) -> SessionReply:
        return await sessions.validate(data.session_token)

    @post("/signout", status_code=204, summary="End the session of a token")
    async def signout(
        self, sessions: NamedDependency[SessionService], data: JSONBody[SessionToken]
    ) -> None:
        await sessions.signout(data.session_token)


class AdminSessions(Controller):
    path = "/api/admin/v1/bill-groups/{bill_group_id:str}/portal/sessions"
    tags = ["admin"]

    @get("/", summary="Active sessions: email, started, last seen", responses=READ_ERRORS)
    async def sessions(
        self,
        who: NamedDependency[Principal],
        sessions: NamedDependency[SessionService],
        bill_group_id: BillGroupId,
    ) -> SessionList:
        return await sessions.active(who, bill_group_id)

    @delete(
        "/", status_code=200, summary="Revoke every session of the portal", responses=WRITE_ERRORS
    )
    async def revoke_all(
        self,
        who: NamedDependency[Principal],
        sessions: NamedDependency[SessionService],
        bill_group_id: BillGroupId,
    ) -> RevokedReply:
        return await sessions.revoke_by_staff(who, bill_group_id, None)

    @delete(
        "/{session_id:str}", status_code=200, summary="Revoke one session", responses=WRITE_ERRORS
    )
    async def revoke_one(
        self,
        who: NamedDependency[Principal],
        sessions: NamedDependency[SessionService],
        bill_group_id: BillGroupId,
        session_id: FromPath[str],
    ) -> RevokedReply:
        return await sessions.revoke_by_staff(who, bill_group_id, session_id)
