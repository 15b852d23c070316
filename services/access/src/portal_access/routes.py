"""HTTP: the admin API (public contract of issue 4) and the internal API for the gateway."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ValidationException
from litestar.params import FromPath, JSONBody, Parameter
from pydantic import BaseModel, ConfigDict, Field

from portal_access.auth import admin_principal, require_internal
from portal_access.errors import ApiError
from portal_access.operations import AccessService, Principal
from portal_contracts.portal import RuleKind

Doc = dict[str, Any]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PortalSwitch(_Body):
    enabled: bool


class RuleIn(_Body):
    kind: RuleKind
    value: str = Field(max_length=320)


class SigninRequest(_Body):
    portal_key: FromPath[str] = Field(min_length=1, max_length=128)
    email: str = Field(max_length=320)
    client_ip: str = Field(min_length=1, max_length=64)


class VerifyRequest(_Body):
    token: str | None = Field(default=None, max_length=128)
    pending_id: str | None = Field(default=None, max_length=128)
    code: str | None = Field(default=None, max_length=64)


class PreviewRedeem(_Body):
    preview_token: str = Field(min_length=1, max_length=128)


class SessionToken(_Body):
    session_token: str = Field(min_length=1, max_length=128)


def _service(request: Request[Any, Any, Any]) -> AccessService:
    service: AccessService = request.app.state.service
    return service


async def _principal(request: Request[Any, Any, Any]) -> Principal:
    service = _service(request)
    return await admin_principal(
        service.storage,
        service.settings.internal_api_token,
        request.headers.get("authorization"),
        request.headers.get("x-tenant-id"),
        request.headers.get("x-actor"),
    )


async def _internal(request: Request[Any, Any, Any]) -> AccessService:
    service = _service(request)
    require_internal(request.headers.get("authorization"), service.settings.internal_api_token)
    return service


BillGroupId = Annotated[str, Parameter(max_length=128)]


class AdminPortal(Controller):
    path = "/api/admin/v1/bill-groups/{bill_group_id:str}/portal"
    tags = ["admin"]
    dependencies = {"who": Provide(_principal), "service": Provide(_service, sync_to_thread=False)}

    @get("/", summary="The portal of a bill group: enabled, URL, rules, contract status")
    async def get_portal(
        self,
        who: NamedDependency[Principal],
        service: NamedDependency[AccessService],
        bill_group_id: BillGroupId,
    ) -> Doc:
        return await service.get_portal(who, bill_group_id)

    @put("/", summary="Turn the portal on or off")
    async def put_portal(
        self,
        who: NamedDependency[Principal],
        service: NamedDependency[AccessService],
        bill_group_id: BillGroupId,
        data: JSONBody[PortalSwitch],
    ) -> Doc:
        return await service.set_enabled(who, bill_group_id, data.enabled)

    @post("/rules", status_code=201, summary="Grant a domain or one email address")
    async def add_rule(
        self,
        who: NamedDependency[Principal],
        service: NamedDependency[AccessService],
        bill_group_id: BillGroupId,
        data: JSONBody[RuleIn],
    ) -> Doc:
        return await service.add_rule(who, bill_group_id, data.kind, data.value)

    @delete("/rules/{rule_id:str}", status_code=204, summary="Remove a rule; its sessions end")
    async def remove_rule(
        self,
        who: NamedDependency[Principal],
        service: NamedDependency[AccessService],
        bill_group_id: BillGroupId,
        rule_id: FromPath[str],
    ) -> None:
        await service.remove_rule(who, bill_group_id, rule_id)

    @post("/link/rotate", status_code=200, summary="New portal URL; the old one stops working")
    async def rotate(
        self,
        who: NamedDependency[Principal],
        service: NamedDependency[AccessService],
        bill_group_id: BillGroupId,
    ) -> Doc:
        return await service.rotate_link(who, bill_group_id)

    @post("/preview", status_code=201, summary="One-time read-only preview URL (10 minutes)")
    async def preview(
        self,
        who: NamedDependency[Principal],
        service: NamedDependency[AccessService],
        bill_group_id: BillGroupId,
    ) -> Doc:
        return await service.create_preview(who, bill_group_id)

    @get("/sessions", summary="Active sessions: email, started, last seen")
    async def sessions(
        self,
        who: NamedDependency[Principal],
        service: NamedDependency[AccessService],
        bill_group_id: BillGroupId,
    ) -> Doc:
        return await service.list_sessions(who, bill_group_id)

    @delete("/sessions", status_code=200, summary="Revoke every session of the portal")
    async def revoke_all(
        self,
        who: NamedDependency[Principal],
        service: NamedDependency[AccessService],
        bill_group_id: BillGroupId,
    ) -> Doc:
        return await service.revoke_sessions(who, bill_group_id, None)

    @delete("/sessions/{session_id:str}", status_code=200, summary="Revoke one session")
    async def revoke_one(
        self,
        who: NamedDependency[Principal],
        service: NamedDependency[AccessService],
        bill_group_id: BillGroupId,
        session_id: FromPath[str],
    ) -> Doc:
        return await service.revoke_sessions(who, bill_group_id, session_id)

    @get("/audit", summary="Who did what, when (newest first)")
    async def audit(
        self,
        who: NamedDependency[Principal],
        service: NamedDependency[AccessService],
        bill_group_id: BillGroupId,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    ) -> Doc:
        return await service.audit(who, bill_group_id, limit)


class Internal(Controller):
    path = "/internal/v1"
    tags = ["internal"]
    dependencies = {"service": Provide(_internal)}

    @get("/portals/{portal_key:str}")
    async def portal(
        self, service: NamedDependency[AccessService], portal_key: FromPath[str]
    ) -> Doc:
        return await service.portal_status(portal_key)

    @post("/signin/request", status_code=202)
    async def signin_request(
        self, service: NamedDependency[AccessService], data: JSONBody[SigninRequest]
    ) -> Doc:
        return await service.request_signin(data.portal_key, data.email, data.client_ip)

    @post("/signin/verify", status_code=200)
    async def signin_verify(
        self, service: NamedDependency[AccessService], data: JSONBody[VerifyRequest]
    ) -> Doc:
        return await service.verify(data.token, data.pending_id, data.code)

    @post("/preview/redeem", status_code=200)
    async def preview_redeem(
        self, service: NamedDependency[AccessService], data: JSONBody[PreviewRedeem]
    ) -> Doc:
        return await service.redeem_preview(data.preview_token)

    @post("/sessions/validate", status_code=200)
    async def validate(
        self, service: NamedDependency[AccessService], data: JSONBody[SessionToken]
    ) -> Doc:
        return await service.validate(data.session_token)

    @post("/sessions/signout", status_code=204)
    async def signout(
        self, service: NamedDependency[AccessService], data: JSONBody[SessionToken]
    ) -> None:
        await service.signout(data.session_token)

    @get("/tenants/{tenant_id:str}/accounts/{account_id:str}/portals")
    async def account_portals(
        self,
        service: NamedDependency[AccessService],
        tenant_id: FromPath[str],
        account_id: FromPath[str],
    ) -> Doc:
        return await service.account_portals(tenant_id, account_id)


def api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[Doc]:
    return Response(exc.body(), status_code=exc.status, headers=exc.headers)


def validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Doc]:
    problems = exc.extra if isinstance(exc.extra, list) else []
    details = "; ".join(
        f"{p.get('key', 'body')}: {p.get('message', '')}" for p in problems if isinstance(p, dict)
    )
    return Response(
        {"error": "invalid_request", "message": details or "the request body is not valid"},
        status_code=422,
    )
