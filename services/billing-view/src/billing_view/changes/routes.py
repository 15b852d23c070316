"""HTTP edge of the activity history (`…/activity`, `…/changes/{change_id}`) and of the
idempotency keys of customer changes (`…/change-keys`)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import Body, FromPath, QueryParameter

from billing_view.changes.models import ChangeKey
from billing_view.changes.schemas import (
    ActivityItem,
    ActivityPage,
    ChangeKeyIn,
    ChangeKeySettled,
)
from billing_view.changes.service import ChangeKeyService, ChangeService

BILL_GROUP_PATH = "/internal/v1/tenants/{tenant_id:str}/bill-groups/{bill_group_id:str}"


class ChangesController(Controller):
    path = BILL_GROUP_PATH

    @get("/activity")
    async def activity(
        self,
        changes: NamedDependency[ChangeService],
        tenant_id: FromPath[str],
        bill_group_id: FromPath[str],
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> ActivityPage:
        """The bill group's customer changes, newest first."""
        return await changes.activity(tenant_id, bill_group_id, limit)

    @get("/changes/{change_id:str}")
    async def change(
        self,
        changes: NamedDependency[ChangeService],
        tenant_id: FromPath[str],
        bill_group_id: FromPath[str],
        change_id: FromPath[str],
    ) -> ActivityItem:
        """One change; 404 until billing-view has consumed its request."""
        return await changes.change(tenant_id, bill_group_id, change_id)

    @post("/change-keys", status_code=200)
    async def claim_key(
        self,
        change_keys: NamedDependency[ChangeKeyService],
        tenant_id: FromPath[str],
        bill_group_id: FromPath[str],
        data: Annotated[ChangeKeyIn, Body()],
    ) -> ChangeKey:
        """The key's change (this one's `change_id` if the key is new) and whether THIS
        caller publishes it (`publish`)."""
        return await change_keys.claim(
            tenant_id, bill_group_id, data.key, data.fingerprint, data.change_id
        )

    @post("/change-keys/settled", status_code=204)
    async def settle_key(
        self,
        change_keys: NamedDependency[ChangeKeyService],
        tenant_id: FromPath[str],
        bill_group_id: FromPath[str],
        data: Annotated[ChangeKeySettled, Body()],
    ) -> None:
        """Published (repeats never publish again), or not (a repeat may publish at once)."""
        await change_keys.settle(tenant_id, bill_group_id, data.key, data.published)
