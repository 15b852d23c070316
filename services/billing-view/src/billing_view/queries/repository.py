"""The queries' reads of the read model: the only code reading the state collections.

Every read is scoped by tenant and bill group; an object of another bill group or tenant is
not found, exactly like one that does not exist. Documents leave as typed models.
"""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from billing_view.db import (
    BILL_GROUPS,
    ENTITIES,
    INVOICES,
    NEWEST,
    PAYMENT_METHODS,
    SUBSCRIPTIONS,
    Doc,
    doc_id,
)
from billing_view.queries.domain import OPEN_STATUSES, InvoiceCursor
from billing_view.queries.models import (
    BillGroupState,
    EntityState,
    InvoiceListing,
    InvoiceState,
    PaymentMethodState,
    QueryPlan,
    SubscriptionState,
)


def _invoice_filter(
    tenant_id: str,
    bill_group_id: str,
    statuses: list[str] | None,
    after: InvoiceCursor | None,
) -> Doc:
    """The invoice list's filter (its sort is `db.NEWEST`, served by `bg_status_newest`)."""
    query: Doc = {"tenant_id": tenant_id, "bill_group_id": bill_group_id}
    if statuses is not None:
        query["current.status"] = statuses[0] if len(statuses) == 1 else {"$in": statuses}
    if after is not None:
        query["$or"] = [
            {"current.issue_date": {"$lt": after.issue_date}},
            {"current.issue_date": after.issue_date, "current.number": {"$lt": after.number}},
            {
                "current.issue_date": after.issue_date,
                "current.number": after.number,
                "invoice_id": {"$lt": after.invoice_id},
            },
        ]
    return query


def _plan(explained: Doc) -> QueryPlan:
    if "ferretdbVersion" in explained.get("serverInfo", {}):
        return QueryPlan(ferretdb=True, filter_pushdown=bool(explained.get("filterPushdown")))
    return QueryPlan(ferretdb=False, winning_plan=str(explained["queryPlanner"]["winningPlan"]))


def _state(doc: Doc) -> Doc:
    state: Doc = doc["current"]["state"]
    return state


class QueryRepository:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._db = db

    async def bill_group(self, tenant_id: str, bill_group_id: str) -> BillGroupState | None:
        doc = await self._db[BILL_GROUPS].find_one(
            {"_id": doc_id(tenant_id, bill_group_id), "tenant_id": tenant_id}
        )
        return None if doc is None else BillGroupState.model_validate(_state(doc))

    async def entity(self, tenant_id: str, entity_id: str) -> EntityState | None:
        doc = await self._db[ENTITIES].find_one(
            {"_id": doc_id(tenant_id, entity_id), "tenant_id": tenant_id}
        )
        return None if doc is None else EntityState.model_validate(_state(doc))

    async def _scoped(self, collection: str, tenant_id: str, bill_group_id: str) -> list[Doc]:
        cursor = self._db[collection].find({"tenant_id": tenant_id, "bill_group_id": bill_group_id})
        return await cursor.to_list()

    async def _one(
        self, collection: str, tenant_id: str, bill_group_id: str, object_id: str
    ) -> Doc | None:
        """By key, and only if it belongs to this tenant AND bill group (else: not found)."""
        return await self._db[collection].find_one(
            {
                "_id": doc_id(tenant_id, object_id),
                "tenant_id": tenant_id,
                "bill_group_id": bill_group_id,
            }
        )

    async def subscriptions(self, tenant_id: str, bill_group_id: str) -> list[SubscriptionState]:
        docs = await self._scoped(SUBSCRIPTIONS, tenant_id, bill_group_id)
        states = [SubscriptionState.model_validate(_state(d)) for d in docs]
        return sorted(states, key=lambda s: (s.start_date, s.subscription_id))

    async def payment_methods(self, tenant_id: str, bill_group_id: str) -> list[PaymentMethodState]:
        docs = await self._scoped(PAYMENT_METHODS, tenant_id, bill_group_id)
        states = [PaymentMethodState.model_validate(_state(d)) for d in docs]
        return sorted(states, key=lambda s: s.payment_method_id)

    async def payment_method(
        self, tenant_id: str, bill_group_id: str, payment_method_id: str
    ) -> PaymentMethodState | None:
        doc = await self._one(PAYMENT_METHODS, tenant_id, bill_group_id, payment_method_id)
        return None if doc is None else PaymentMethodState.model_validate(_state(doc))

    async def invoice(
        self, tenant_id: str, bill_group_id: str, invoice_id: str
    ) -> InvoiceState | None:
        doc = await self._one(INVOICES, tenant_id, bill_group_id, invoice_id)
        return None if doc is None else InvoiceState.model_validate(_state(doc))

    async def open_invoices(self, tenant_id: str, bill_group_id: str) -> list[InvoiceListing]:
        cursor = self._db[INVOICES].find(
            {
                "tenant_id": tenant_id,
                "bill_group_id": bill_group_id,
                "current.status": {"$in": sorted(OPEN_STATUSES)},
            },
            {"current.state.lines": 0},
        )
        return [InvoiceListing.model_validate(_state(d)) for d in await cursor.to_list()]

    async def invoices(
        self,
        tenant_id: str,
        bill_group_id: str,
        statuses: list[str] | None,
        after: InvoiceCursor | None,
        limit: int,
    ) -> list[InvoiceListing]:
        """Newest first (issue_date, number, id desc), after the cursor; lines left out."""
        query = _invoice_filter(tenant_id, bill_group_id, statuses, after)
        cursor = self._db[INVOICES].find(query, {"current.state.lines": 0}).sort(NEWEST)
        docs = await cursor.limit(limit).to_list()
        return [InvoiceListing.model_validate(_state(d)) for d in docs]

    async def explain_invoice_list(
        self,
        tenant_id: str,
        bill_group_id: str,
        statuses: list[str] | None,
        after: InvoiceCursor | None,
    ) -> QueryPlan:
        """How the server runs the invoice list's query (an index check for tests and ops)."""
        query = _invoice_filter(tenant_id, bill_group_id, statuses, after)
        return _plan(await self._db[INVOICES].find(query).sort(NEWEST).explain())

    async def explain_bill_group(self, tenant_id: str, bill_group_id: str) -> QueryPlan:
        """How the server runs the read of one bill group by key."""
        return _plan(
            await self._db[BILL_GROUPS].find({"_id": doc_id(tenant_id, bill_group_id)}).explain()
        )

    async def account_bill_groups(self, tenant_id: str, account_id: str) -> list[BillGroupState]:
        cursor = self._db[BILL_GROUPS].find(
            {"tenant_id": tenant_id, "current.account_id": account_id}
        )
        states = [BillGroupState.model_validate(_state(d)) for d in await cursor.to_list()]
        return sorted(states, key=lambda s: s.bill_group_id)
