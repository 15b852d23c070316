"""Internal endpoint for the gateway's staff console: redeem a signed staff link (issue 9).

`POST /internal/v1/staff-links/redeem` `{params: {tenant, bill_group|account, staff, exp,
nonce, sig}, consume: bool}` → `200 {tenant_id, scope, scope_id, staff_email, expires_at}`;
`403 {error: malformed|bad_signature|too_long_lived|unknown_scope, message}`;
`410 {error: expired|reused, message}`. `consume: false` only checks (the console's
confirmation page), so a link previewer's GET cannot use up a single-use link.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.di import Provide
from pydantic import BaseModel, ConfigDict, Field

from portal_access import staff_links
from portal_access.auth import require_internal
from portal_access.errors import ApiError
from portal_access.operations import AccessService
from portal_access.staff_links import Refusal, Scope, StaffGrant, StaffLinkError
from portal_access.staff_storage import StaffLinkStore
from portal_kit.observability import mask_email

log = logging.getLogger(__name__)
Doc = dict[str, Any]


class RedeemRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    params: dict[str, str] = Field(max_length=16)
    consume: bool = True


class StaffLinkService:
    def __init__(self, service: AccessService, store: StaffLinkStore) -> None:
        self.service = service
        self.store = store

    async def redeem(self, params: dict[str, str], consume: bool) -> Doc:
        now = self.service.now()
        try:
            grant = await self._verify(params, now, consume)
        except StaffLinkError as refused:
            log.info(
                "staff link refused",
                extra={"reason": refused.reason.value, "tenant_id": params.get("tenant", "")[:128]},
            )
            reason = refused.reason
            raise ApiError(reason.http_status, reason.value, reason.message) from None
        if consume:
            log.info(
                "staff link redeemed",
                extra={
                    "tenant_id": grant.tenant_id,
                    "scope": grant.scope.value,
                    "scope_id": grant.scope_id,
                    "staff": mask_email(grant.staff_email),
                },
            )
        return {
            "tenant_id": grant.tenant_id,
            "scope": grant.scope.value,
            "scope_id": grant.scope_id,
            "staff_email": grant.staff_email,
            "expires_at": datetime.fromtimestamp(grant.expires_at, UTC).isoformat(),
        }

    async def _verify(self, params: dict[str, str], now: datetime, consume: bool) -> StaffGrant:
        tenant_id = params.get("tenant", "")
        secrets = await self.store.secrets_of(tenant_id) if tenant_id else []
        grant = staff_links.verify(params, secrets, int(now.timestamp()))
        storage = self.service.storage
        if grant.scope is Scope.BILL_GROUP:
            exists = await storage.portal(grant.tenant_id, grant.scope_id) is not None
        else:
            exists = bool(await storage.portals_of_account(grant.tenant_id, grant.scope_id))
        if not exists:
            raise StaffLinkError(Refusal.UNKNOWN_SCOPE)
        if not consume:
            if await self.store.used(grant.tenant_id, grant.nonce):
                raise StaffLinkError(Refusal.REUSED)
            return grant
        # Kept until the link could no longer verify anyway; a replay after that is "expired".
        purge_at = datetime.fromtimestamp(
            grant.expires_at + staff_links.CLOCK_SKEW_SECONDS, UTC
        ) + timedelta(minutes=5)
        if not await self.store.consume(
            grant.tenant_id, grant.nonce, grant.staff_email, now, purge_at
        ):
            raise StaffLinkError(Refusal.REUSED)
        if grant.scope is Scope.BILL_GROUP:
            await storage.audit(
                tenant_id=grant.tenant_id,
                bill_group_id=grant.scope_id,
                actor=grant.staff_email,
                action="console.opened",
                at=now,
            )
        return grant


def _staff_links(request: Request[Any, Any, Any], state: State) -> StaffLinkService:
    service: AccessService = state.service
    require_internal(request.headers.get("authorization"), service.settings.internal_api_token)
    existing: StaffLinkService | None = getattr(state, "staff_links", None)
    if existing is None:
        store = StaffLinkStore(service.storage.client, service.settings.mongodb_database)
        existing = state.staff_links = StaffLinkService(service, store)
    return existing


class StaffLinks(Controller):
    path = "/internal/v1/staff-links"
    tags = ["internal"]
    dependencies = {"links": Provide(_staff_links, sync_to_thread=False)}

    @post("/redeem", status_code=200)
    async def redeem(self, links: StaffLinkService, data: RedeemRequest) -> Doc:
        await links.store.ensure_indexes()
        return await links.redeem(data.params, data.consume)
