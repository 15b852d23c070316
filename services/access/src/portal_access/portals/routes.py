"""HTTP edges of portals: the admin API (issue 4's public contract) and the gateway's
internal lookups and preview redemption."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter

from portal_access.api_keys.models import Principal
from portal_access.openapi import READ_ERRORS, WRITE_ERRORS
from portal_access.portals.preview import PreviewService
from portal_access.portals.schemas import (
    AccountPortalsReply,
    AuditList,
    PortalLinkReply,
    PortalReply,
    PortalStatusReply,
    PortalSwitch,
    PreviewRedeem,
    PreviewReply,
    RuleIn,
    RuleReply,
)
from portal_access.portals.service import PortalService
from portal_access.sessions.schemas import SessionStartedReply

BillGroupId = Annotated[str, Parameter(max_length=128)]


class AdminPortal(Controller):
    path = "/api/admin/v1/bill-groups/{bill_group_id:str}/portal"
    tags = ["admin"]

    @get(
        "/",
        summary="The portal of a bill group: enabled, URL, rules, contract status",
        responses=READ_ERRORS,
    )
    async def get_portal(
        self,
        who: NamedDependency[Principal],
        portals: NamedDependency[PortalService],
        bill_group_id: BillGroupId,
    ) -> PortalReply:
        return await portals.get(who, bill_group_id)

    @put("/", summary="Turn the portal on or off", responses=WRITE_ERRORS)
    async def put_portal(
        self,
        who: NamedDependency[Principal],
        portals: NamedDependency[PortalService],
        bill_group_id: BillGroupId,
        data: JSONBody[PortalSwitch],
    ) -> PortalReply:
        return await portals.set_enabled(who, bill_group_id, data.enabled)

    @post(
        "/rules",
        status_code=201,
        summary="Grant a domain or one email address",
        responses=WRITE_ERRORS,
    )
    async def add_rule(
        self,
        who: NamedDependency[Principal],
        portals: NamedDependency[PortalService],
        bill_group_id: BillGroupId,
        data: JSONBody[RuleIn],
    ) -> RuleReply:
        return await portals.add_rule(who, bill_group_id, data.kind, data.value)

    @delete(
        "/rules/{rule_id:str}",
        status_code=204,
        summary="Remove a rule; its sessions end",
        responses=WRITE_ERRORS,
    )
    async def remove_rule(
        self,
        who: NamedDependency[Principal],
        portals: NamedDependency[PortalService],
        bill_group_id: BillGroupId,
        rule_id: FromPath[str],
    ) -> None:
        await portals.remove_rule(who, bill_group_id, rule_id)

    @post(
        "/link/rotate",
        status_code=200,
        summary="New portal URL; the old one stops working",
        responses=WRITE_ERRORS,
    )
    async def rotate(
        self,
        who: NamedDependency[Principal],
        portals: NamedDependency[PortalService],
        bill_group_id: BillGroupId,
    ) -> PortalLinkReply:
        return await portals.rotate_link(who, bill_group_id)

    @post(
        "/preview",
        status_code=201,
        summary="One-time read-only preview URL (10 minutes)",
        responses=WRITE_ERRORS,
    )
    async def preview(
        self,
        who: NamedDependency[Principal],
        previews: NamedDependency[PreviewService],
        bill_group_id: BillGroupId,
    ) -> PreviewReply:
        return await previews.create(who, bill_group_id)

    @get("/audit", summary="Who did what, when (newest first)", responses=READ_ERRORS)
    async def audit(
        self,
        who: NamedDependency[Principal],
        portals: NamedDependency[PortalService],
        bill_group_id: BillGroupId,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    ) -> AuditList:
        return await portals.audit(who, bill_group_id, limit)


class InternalPortals(Controller):
    path = "/internal/v1"
    tags = ["internal"]

    @get("/portals/{portal_key:str}", summary="Whether a portal link opens, and for whom")
    async def portal(
        self, portals: NamedDependency[PortalService], portal_key: FromPath[str]
    ) -> PortalStatusReply:
        return await portals.status(portal_key)

    @get("/tenants/{tenant_id:str}/accounts/{account_id:str}/portals")
    async def account_portals(
        self,
        portals: NamedDependency[PortalService],
        tenant_id: FromPath[str],
        account_id: FromPath[str],
    ) -> AccountPortalsReply:
        return await portals.account_portals(tenant_id, account_id)

    @post("/preview/redeem", status_code=200, summary="Open a preview: a read-only session")
    async def preview_redeem(
        self, previews: NamedDependency[PreviewService], data: JSONBody[PreviewRedeem]
    ) -> SessionStartedReply:
        return SessionStartedReply.of(await previews.redeem(data.preview_token))
