"""HTTP edge of the activity history: `…/activity` and `…/changes/{change_id}`."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from billing_view.changes.schemas import ActivityItem, ActivityPage
from billing_view.changes.service import ChangeService

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
