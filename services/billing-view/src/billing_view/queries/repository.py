"""The queries' reads of the read model: the only code reading it for the API.

Every read is by `_id` (equality or `$in` of a few keys), so its cost does not depend on how
many bill groups, tenants or invoices exist; a read of a portal view fetches only the parts
the page needs (a projection). Keys carry the tenant and the bill group: an object of another
bill group or tenant is simply not found. Documents leave as typed models.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from pymongo.asynchronous.database import AsyncDatabase

from billing_view import db
from billing_view.changes.models import ChangeRecord
from billing_view.db import READ_MODEL, Doc
from billing_view.projection import writes as w
from billing_view.queries.models import (
    AccountBillGroup,
    BillGroupState,
    EntityState,
    InvoiceEntry,
    InvoiceListing,
    InvoiceState,
    Part,
    PaymentMethodState,
    PortalView,
    SubscriptionState,
)

_FIELDS: dict[Part, str] = {
    "payment_methods": w.PAYMENT_METHODS,
    "subscriptions": w.SUBSCRIPTIONS,
    "invoices": w.INVOICES,
    "changes": w.CHANGES,
}


def _items(doc: Doc, name: str) -> Iterable[Doc]:
    items: dict[str, Doc] = doc.get(name) or {}
    return items.values()


def _entry(item: Doc) -> InvoiceEntry:
    return InvoiceEntry(
        invoice_id=item["i"],
        status=item["st"],
        issue_date=item["d"],
        number=item["n"],
        currency=item["c"],
        amount_due_minor=int(item["a"]),
    )


def _view(doc: Doc) -> PortalView:
    methods = [
        PaymentMethodState.model_validate_json(i["s"]) for i in _items(doc, w.PAYMENT_METHODS)
    ]
    subs = [SubscriptionState.model_validate_json(i["s"]) for i in _items(doc, w.SUBSCRIPTIONS)]
    changes = [
        ChangeRecord.model_validate(
            {**c, "tenant_id": doc["tenant_id"], "bill_group_id": doc["bill_group_id"]}
        )
        for c in _items(doc, w.CHANGES)
        if "kind" in c
    ]
    return PortalView(
        bill_group=BillGroupState.model_validate_json(doc[w.BILL_GROUP]["s"]),
        payment_methods=sorted(methods, key=lambda m: m.payment_method_id),
        subscriptions=sorted(subs, key=lambda s: (s.start_date, s.subscription_id)),
        invoices=[_entry(i) for i in _items(doc, w.INVOICES)],
        changes=sorted(changes, key=lambda r: (r.requested_at, r.change_id), reverse=True),
    )


class QueryRepository:
    def __init__(self, database: AsyncDatabase[Doc]) -> None:
        self._col = database[READ_MODEL]

    async def view(
        self, tenant_id: str, bill_group_id: str, parts: Iterable[Part] = ()
    ) -> PortalView | None:
        """The bill group's portal view with the parts asked for; None until its state."""
        projection = {w.BILL_GROUP: 1, "tenant_id": 1, "bill_group_id": 1}
        projection.update({_FIELDS[p]: 1 for p in parts})
        doc = await self._col.find_one({"_id": db.view_id(tenant_id, bill_group_id)}, projection)
        if doc is None or w.BILL_GROUP not in doc:
            return None
        return _view(doc)

    async def bill_group(self, tenant_id: str, bill_group_id: str) -> BillGroupState | None:
        view = await self.view(tenant_id, bill_group_id)
        return None if view is None else view.bill_group

    async def entity(self, tenant_id: str, entity_id: str) -> EntityState | None:
        doc = await self._col.find_one({"_id": db.entity_id(tenant_id, entity_id)}, {w.STATE: 1})
        return None if doc is None else EntityState.model_validate_json(doc[w.STATE]["s"])

    async def invoice(
        self, tenant_id: str, bill_group_id: str, invoice_id: str
    ) -> InvoiceState | None:
        key = db.invoice_id(tenant_id, bill_group_id, invoice_id)
        doc = await self._col.find_one({"_id": key}, {w.STATE: 1})
        if doc is None:
            return None
        state = doc[w.STATE]
        return InvoiceState.model_validate(
            {**json.loads(state["s"]), "lines": json.loads(state["l"])}
        )

    async def invoice_listings(
        self, tenant_id: str, bill_group_id: str, invoice_ids: list[str]
    ) -> list[InvoiceListing]:
        """These invoices without their lines, in the order asked for (one `$in` by `_id`)."""
        if not invoice_ids:
            return []
        keys = [db.invoice_id(tenant_id, bill_group_id, i) for i in invoice_ids]
        docs = await self._col.find({"_id": {"$in": keys}}, {f"{w.STATE}.s": 1}).to_list()
        by_key = {d["_id"]: InvoiceListing.model_validate_json(d[w.STATE]["s"]) for d in docs}
        return [by_key[k] for k in keys if k in by_key]

    async def account_bill_groups(self, tenant_id: str, account_id: str) -> list[AccountBillGroup]:
        doc = await self._col.find_one(
            {"_id": db.account_id(tenant_id, account_id)}, {w.ACCOUNT_BILL_GROUPS: 1}
        )
        if doc is None:
            return []
        found = [
            AccountBillGroup.model_validate_json(i["s"]) for i in _items(doc, w.ACCOUNT_BILL_GROUPS)
        ]
        return sorted(found, key=lambda b: b.bill_group_id)
