"""The HTTP client of billing-view: the customer's billing records, decoded into typed models."""

from __future__ import annotations

from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from portal_gateway.clients.http import call, decode, quote_segment
from portal_gateway.errors import InvalidCursorError, NotFoundError, UpstreamError
from portal_gateway.portal.models import (
    Activity,
    ActivityItem,
    Branding,
    ChangeKey,
    ChangeKeyClaim,
    ChangeKeySettled,
    Invoice,
    InvoicePage,
    Overview,
    PaymentMethod,
    PaymentMethods,
    PortalPage,
    Subscription,
    Subscriptions,
)
from portal_kit.errors import ErrorBody

M = TypeVar("M", bound=BaseModel)
SERVICE = "billing-view"
NOT_FOUND = "We could not find that."


def _names_cursor(response: httpx.Response) -> bool:
    """Whether billing-view refused the `cursor`: the one parameter a customer supplies
    verbatim (from a link). Any other 400 is the gateway's own mistake (an upstream error)."""
    try:
        refusal = ErrorBody.model_validate_json(response.content)
    except ValidationError:
        return False
    return bool(refusal.fields and "cursor" in refusal.fields)


class BillingViewClient:
    """Every call is scoped to one tenant and bill group: billing-view answers 404 for an id
    of any other, which becomes NotFoundError."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def _get(
        self,
        model: type[M],
        tenant_id: str,
        bill_group_id: str,
        path: str,
        params: dict[str, str | int] | None = None,
    ) -> M:
        tenant, bill_group = quote_segment(tenant_id), quote_segment(bill_group_id)
        url = f"/internal/v1/tenants/{tenant}/bill-groups/{bill_group}{path}"
        response = await call(self.http, SERVICE, "GET", url, params=params)
        if response.status_code == 404:
            raise NotFoundError(NOT_FOUND)
        if (
            response.status_code == 400
            and params
            and "cursor" in params
            and _names_cursor(response)
        ):
            raise InvalidCursorError
        return decode(response, model, SERVICE)

    async def page(
        self,
        tenant_id: str,
        bill_group_id: str,
        page: str,
        params: dict[str, str | int] | None = None,
    ) -> PortalPage:
        """One portal page's data in one call: `page` is `overview`, `billing-details`,
        `contacts`, `subscriptions`, `payment-methods`, `invoices`, `activity`, `branding`
        or `changes/{change_id}` (its `change` is null until billing-view has it)."""
        return await self._get(PortalPage, tenant_id, bill_group_id, f"/pages/{page}", params)

    async def overview(self, tenant_id: str, bill_group_id: str) -> Overview:
        return await self._get(Overview, tenant_id, bill_group_id, "/overview")

    async def branding(self, tenant_id: str, bill_group_id: str) -> Branding:
        return await self._get(Branding, tenant_id, bill_group_id, "/branding")

    async def subscriptions(self, tenant_id: str, bill_group_id: str) -> list[Subscription]:
        return (await self._get(Subscriptions, tenant_id, bill_group_id, "/subscriptions")).items

    async def payment_methods(self, tenant_id: str, bill_group_id: str) -> list[PaymentMethod]:
        answer = await self._get(PaymentMethods, tenant_id, bill_group_id, "/payment-methods")
        return answer.items

    async def payment_method(
        self, tenant_id: str, bill_group_id: str, payment_method_id: str
    ) -> PaymentMethod:
        path = f"/payment-methods/{quote_segment(payment_method_id)}"
        return await self._get(PaymentMethod, tenant_id, bill_group_id, path)

    async def invoices(
        self,
        tenant_id: str,
        bill_group_id: str,
        statuses: str | None,
        limit: int,
        cursor: str | None,
    ) -> InvoicePage:
        params: dict[str, str | int] = {"limit": limit}
        if statuses:
            params["status"] = statuses
        if cursor:
            params["cursor"] = cursor
        return await self._get(InvoicePage, tenant_id, bill_group_id, "/invoices", params)

    async def invoice(self, tenant_id: str, bill_group_id: str, invoice_id: str) -> Invoice:
        path = f"/invoices/{quote_segment(invoice_id)}"
        return await self._get(Invoice, tenant_id, bill_group_id, path)

    async def activity(
        self, tenant_id: str, bill_group_id: str, limit: int = 50
    ) -> list[ActivityItem]:
        params: dict[str, str | int] = {"limit": limit}
        return (await self._get(Activity, tenant_id, bill_group_id, "/activity", params)).items

    async def change(self, tenant_id: str, bill_group_id: str, change_id: str) -> ActivityItem:
        path = f"/changes/{quote_segment(change_id)}"
        return await self._get(ActivityItem, tenant_id, bill_group_id, path)

    # --- idempotency keys of changes ---------------------------------------------------

    def _keys_path(self, tenant_id: str, bill_group_id: str) -> str:
        tenant, bill_group = quote_segment(tenant_id), quote_segment(bill_group_id)
        return f"/internal/v1/tenants/{tenant}/bill-groups/{bill_group}/change-keys"

    async def claim_key(
        self, tenant_id: str, bill_group_id: str, key: str, fingerprint: str, change_id: str
    ) -> ChangeKey:
        body = ChangeKeyClaim(key=key, fingerprint=fingerprint, change_id=change_id)
        path = self._keys_path(tenant_id, bill_group_id)
        response = await call(self.http, SERVICE, "POST", path, json=body)
        return decode(response, ChangeKey, SERVICE)

    async def settle_key(
        self, tenant_id: str, bill_group_id: str, key: str, published: bool
    ) -> None:
        body = ChangeKeySettled(key=key, published=published)
        path = f"{self._keys_path(tenant_id, bill_group_id)}/settled"
        response = await call(self.http, SERVICE, "POST", path, json=body)
        if response.status_code != 204:
            raise UpstreamError(f"{SERVICE} {path} -> {response.status_code}")

    async def healthy(self) -> bool:
        return (await self.http.get("/healthz")).status_code == 200
