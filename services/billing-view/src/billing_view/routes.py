"""The internal query API (docs/internal-apis.md, billing-view section).

Every path carries the tenant and the bill group; an object of another bill group or tenant
answers 404 exactly like one that does not exist.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, QueryParameter

from billing_view import domain
from billing_view.domain import INVOICES, PAYMENT_METHODS, InvalidCursorError, InvoiceCursor
from billing_view.storage import Doc, Storage
from portal_contracts.billing import InvoiceStatus

Today = Callable[[], date]

BASE = "/internal/v1/tenants/{tenant_id:str}/bill-groups/{bill_group_id:str}"


def bearer_guard(
    token: str,
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]:
    expected = f"Bearer {token}".encode()

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        given = connection.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise NotAuthorizedException("a valid internal bearer token is required")

    return guard


def error_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, str]]:
    codes = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}
    code = codes.get(exc.status_code, "error")
    return Response(
        {"error": code, "message": str(exc.detail)},
        status_code=exc.status_code,
        headers={"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None,
    )


def _state(doc: Doc) -> dict[str, Any]:
    return dict(doc["current"]["state"])


def _activity(doc: Doc, bill_group: Doc | None, payment_method_ids: list[str]) -> dict[str, Any]:
    return {
        "change_id": doc["change_id"],
        "kind": doc["kind"],
        "actor_email": doc["actor_email"],
        "before": doc.get("before"),
        "after": doc.get("after"),
        "status": domain.activity_status(
            doc, None if bill_group is None else _state(bill_group), payment_method_ids
        ),
        "reason": doc.get("reason"),
        "requested_at": doc["requested_at"],
        "settled_at": doc.get("settled_at"),
    }


class BillGroupController(Controller):
    path = BASE

    async def _bill_group(
        self,
        storage: NamedDependency[Storage],
        tenant_id: FromPath[str],
        bill_group_id: FromPath[str],
    ) -> Doc:
        doc = await storage.bill_group(tenant_id, bill_group_id)
        if doc is None:
            raise NotFoundException("no such bill group")
        return doc

    async def _entity(
        self, storage: NamedDependency[Storage], tenant_id: FromPath[str], entity_id: str
    ) -> dict[str, Any]:
        doc = await storage.entity(tenant_id, entity_id)
        if doc is None:
            # Branding may arrive after the bill group: show the id, no name or logo yet.
            return {"entity_id": entity_id, "name": None, "logo": None}
        state = _state(doc)
        return {"entity_id": entity_id, "name": state["name"], "logo": state.get("logo")}

    async def _methods(
        self,
        storage: NamedDependency[Storage],
        tenant_id: FromPath[str],
        bill_group_id: FromPath[str],
    ) -> list[Doc]:
        return [_state(d) for d in await storage.payment_methods(tenant_id, bill_group_id)]

    @get("/overview")
    async def overview(
        self,
        storage: NamedDependency[Storage],
        today: NamedDependency[Today],
        tenant_id: FromPath[str],
        bill_group_id: FromPath[str],
    ) -> dict[str, Any]:
        doc = await self._bill_group(storage, tenant_id, bill_group_id)
        state = _state(doc)
        methods = await self._methods(storage, tenant_id, bill_group_id)
        invoices = [_state(d) for d in await storage.open_invoices(tenant_id, bill_group_id)]
        method_ids = [m["payment_method_id"] for m in methods]
        pending = [
            item
            for item in (
                _activity(d, doc, method_ids)
                for d in await storage.pending_changes(tenant_id, bill_group_id)
            )
            if item["status"] == "pending"
        ]
        bill_group = {k: v for k, v in state.items() if k != "entity_id"}
        return {
            "bill_group": bill_group,
            "entity": await self._entity(storage, tenant_id, state["entity_id"]),
            "summary": domain.summary(state, invoices, methods, today()),
            "pending_changes": pending,
        }

    @get("/branding")
    async def branding(
        self,
        storage: NamedDependency[Storage],
        tenant_id: FromPath[str],
        bill_group_id: FromPath[str],
    ) -> dict[str, Any]:
        state = _state(await self._bill_group(storage, tenant_id, bill_group_id))
        return {
            "entity": await self._entity(storage, tenant_id, state["entity_id"]),
            "bill_group_name": state["name"],
            "account_name": state["account_name"],
        }

    @get("/subscriptions")
    async def subscriptions(
        self,
        storage: NamedDependency[Storage],
        tenant_id: FromPath[str],
        bill_group_id: FromPath[str],
    ) -> dict[str, Any]:
        await self._bill_group(storage, tenant_id, bill_group_id)
        docs = await storage.subscriptions(tenant_id, bill_group_id)
        return {"items": [_state(d) for d in docs]}

    @get("/payment-methods")
    async def payment_methods(
        self,
        storage: NamedDependency[Storage],
        today: NamedDependency[Today],
        tenant_id: FromPath[str],
        bill_group_id: FromPath[str],
    ) -> dict[str, Any]:
        state = _state(await self._bill_group(storage, tenant_id, bill_group_id))
        methods = await self._methods(storage, tenant_id, bill_group_id)
        return {
            "items": [
                domain.payment_method_view(m, state, today())
                for m in methods
                if m["status"] != "removed"
            ]
        }

    @get("/payment-methods/{payment_method_id:str}")
    async def payment_method(
        self,
        storage: NamedDependency[Storage],
        today: NamedDependency[Today],
        tenant_id: FromPath[str],
        bill_group_id: FromPath[str],
        payment_method_id: FromPath[str],
    ) -> dict[str, Any]:
        bill_group = await self._bill_group(storage, tenant_id, bill_group_id)
        doc = await storage.one(PAYMENT_METHODS, tenant_id, bill_group_id, payment_method_id)
        if doc is None or _state(doc)["status"] == "removed":
            raise NotFoundException("no such payment method")
        return domain.payment_method_view(_state(doc), _state(bill_group), today())

    @get("/invoices")
    async def invoices(
        self,
        storage: NamedDependency[Storage],
        tenant_id: FromPath[str],
        bill_group_id: FromPath[str],
        status: Annotated[str | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
    ) -> dict[str, Any]:
        await self._bill_group(storage, tenant_id, bill_group_id)
        statuses = None if status is None else status.split(",")
        unknown = [s for s in statuses or () if s not in {v.value for v in InvoiceStatus}]
        if unknown:
            raise HTTPException(status_code=400, detail=f"unknown invoice status {unknown[0]!r}")
        try:
            after = None if cursor is None else InvoiceCursor.decode(cursor)
        except InvalidCursorError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        docs = await storage.invoices(tenant_id, bill_group_id, statuses, after, limit + 1)
        page, more = docs[:limit], len(docs) > limit
        next_cursor = None
        if more:
            last = page[-1]
            next_cursor = InvoiceCursor(
                last["current"]["issue_date"], last["current"]["number"], last["invoice_id"]
            ).encode()
        return {"items": [_state(d) for d in page], "next_cursor": next_cursor}

    @get("/invoices/{invoice_id:str}")
    async def invoice(
        self,
        storage: NamedDependency[Storage],
        tenant_id: FromPath[str],
        bill_group_id: FromPath[str],
        invoice_id: FromPath[str],
    ) -> dict[str, Any]:
        doc = await storage.one(INVOICES, tenant_id, bill_group_id, invoice_id)
        if doc is None:
            raise NotFoundException("no such invoice")
        return _state(doc)

    @get("/activity")
    async def activity(
        self,
        storage: NamedDependency[Storage],
        tenant_id: FromPath[str],
        bill_group_id: FromPath[str],
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> dict[str, Any]:
        bill_group = await self._bill_group(storage, tenant_id, bill_group_id)
        method_ids = [
            m["payment_method_id"] for m in await self._methods(storage, tenant_id, bill_group_id)
        ]
        docs = await storage.activity(tenant_id, bill_group_id, limit)
        return {"items": [_activity(d, bill_group, method_ids) for d in docs]}

    @get("/changes/{change_id:str}")
    async def change(
        self,
        storage: NamedDependency[Storage],
        tenant_id: FromPath[str],
        bill_group_id: FromPath[str],
        change_id: FromPath[str],
    ) -> dict[str, Any]:
        doc = await storage.change(tenant_id, bill_group_id, change_id)
        if doc is None:
            raise NotFoundException("no such change (yet)")
        bill_group = await storage.bill_group(tenant_id, bill_group_id)
        method_ids = [
            m["payment_method_id"] for m in await self._methods(storage, tenant_id, bill_group_id)
        ]
        return _activity(doc, bill_group, method_ids)


class AccountController(Controller):
    path = "/internal/v1/tenants/{tenant_id:str}/accounts/{account_id:str}"

    @get("/bill-groups")
    async def bill_groups(
        self, storage: NamedDependency[Storage], tenant_id: FromPath[str], account_id: FromPath[str]
    ) -> dict[str, Any]:
        docs = await storage.account_bill_groups(tenant_id, account_id)
        return {
            "items": [
                {
                    "bill_group_id": d["bill_group_id"],
                    "name": _state(d)["name"],
                    "contract_status": _state(d)["contract_status"],
                    "currency": _state(d)["currency"],
                }
                for d in docs
            ]
        }


def utc_today() -> date:
    return datetime.now(UTC).date()
