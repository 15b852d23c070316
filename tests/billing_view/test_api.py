"""The internal query API over a real database holding the demo scenario (and a second tenant).

Cross-bill-group and cross-tenant ids answer 404; a page is one request, and every request
reads a handful of documents by `_id` only (captured with PyMongo's command monitoring).
"""

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from typing import Any
from urllib.parse import quote

import pytest
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient, monitoring

from billing_simulator import scenario
from billing_view import db
from billing_view.app import create_app
from billing_view.settings import Settings
from portal_contracts import billing, portal
from portal_contracts.codec import make_event
from portal_contracts.numbers import INT64_MAX
from portal_localstack.testing import Isolation, StackHandle
from tests.billing_view.support import projector, records

pytestmark = pytest.mark.integration

TOKEN = "test-internal-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DEMO = scenario.demo()
BASE = "/internal/v1/tenants/demo/bill-groups"


@pytest.fixture
async def database(
    stack: StackHandle, isolation: Isolation, mongo: AsyncMongoClient[dict[str, Any]]
) -> str:
    name = isolation.database("billing-view")
    db = mongo[name]
    apply, parked = projector(db)
    other_tenant = [
        e.model_copy(update={"tenant_id": "acme"})
        for e in DEMO.events
        if e.aggregate_id in ("bg_globex", "inv_globex_0024", "ent_northwind")
    ]
    change = make_event(
        portal.BillingProfileChangeRequested(
            change_id="chg_1",
            bill_group_id="bg_globex",
            actor_email="ap@globex.example",
            billing_profile=billing.BillingProfile(po_number="PO-NEW"),
        ),
        tenant_id="demo",
        aggregate_id="bg_globex",
    )
    await apply.handle_batch(records([*DEMO.events, *other_tenant, change]))
    assert not parked
    return name


@pytest.fixture
async def client(stack: StackHandle, database: str) -> AsyncIterator[AsyncTestClient[Any]]:
    settings = Settings(
        mongodb_uri=stack.endpoints.mongodb_uri,
        mongodb_database=database,
        internal_api_token=TOKEN,
    )
    app = create_app(settings, consume=False, today=lambda: date(2026, 11, 24))
    async with AsyncTestClient(app) as test_client:
        yield test_client


async def test_requires_the_internal_token(client: AsyncTestClient[Any]) -> None:
    assert (await client.get(f"{BASE}/bg_globex/overview")).status_code == 401
    wrong = await client.get(f"{BASE}/bg_globex/overview", headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "unauthorized"
    assert (await client.get("/healthz")).status_code == 200


async def test_overview_matches_the_scenario(client: AsyncTestClient[Any]) -> None:
    for info in DEMO.bill_groups:
        response = await client.get(f"{BASE}/{info.bill_group_id}/overview", headers=AUTH)
        assert response.status_code == 200, response.text
        body = response.json()
        outstanding = {o["currency"]: o["amount_minor"] for o in body["summary"]["outstanding"]}
        assert outstanding == info.expected_outstanding
        assert body["summary"]["auto_pay_active"] is info.expected_auto_pay_active
        assert body["bill_group"]["contract_status"] == info.contract_status
        assert body["entity"]["entity_id"] == info.entity_id
        assert body["entity"]["logo"]["url"].endswith(f"/{info.entity_id}.svg")
    hooli = (await client.get(f"{BASE}/bg_hooli/overview", headers=AUTH)).json()
    assert len(hooli["summary"]["outstanding"]) == 3


async def test_pending_change_shows_with_its_before_and_after(
    client: AsyncTestClient[Any],
) -> None:
    overview = (await client.get(f"{BASE}/bg_globex/overview", headers=AUTH)).json()
    # Pending values are not merged into the bill group; they are listed beside it.
    assert overview["bill_group"]["billing_profile"]["po_number"] == "PO-1000"
    [pending] = overview["pending_changes"]
    assert pending["change_id"] == "chg_1"
    assert pending["before"]["po_number"] == "PO-1000"
    assert pending["after"]["po_number"] == "PO-NEW"
    assert pending["actor_email"] == "ap@globex.example"
    change = await client.get(f"{BASE}/bg_globex/changes/chg_1", headers=AUTH)
    assert change.json()["status"] == "pending"
    activity = (await client.get(f"{BASE}/bg_globex/activity", headers=AUTH)).json()
    assert [i["change_id"] for i in activity["items"]] == ["chg_1"]


async def test_invoices_page_newest_first_and_filter(client: AsyncTestClient[Any]) -> None:
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(f"{BASE}/bg_globex/invoices", params=params, headers=AUTH)).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == scenario.INVOICES_PER_BILL_GROUP
    keys = [(i["issue_date"], i["number"]) for i in seen]
    assert keys == sorted(keys, reverse=True)
    assert all("lines" not in i for i in seen)
    assert {i["status"] for i in seen} == {s.value for s in billing.InvoiceStatus}
    overdue = await client.get(
        f"{BASE}/bg_globex/invoices", params={"status": "overdue"}, headers=AUTH
    )
    assert [i["status"] for i in overdue.json()["items"]] == ["overdue", "overdue"]
    issued = await client.get(
        f"{BASE}/bg_globex/invoices",
        params={"status": "open,overdue", "limit": 100},
        headers=AUTH,
    )
    assert sorted(i["status"] for i in issued.json()["items"]) == [
        "open",
        "open",
        "overdue",
        "overdue",
    ]
    bad = await client.get(f"{BASE}/bg_globex/invoices", params={"status": "x"}, headers=AUTH)
    assert bad.status_code == 400
    # The one error body of every portal API, naming the parameter.
    assert bad.json() == {
        "error": "invalid",
        "message": "unknown invoice status 'x'",
        "fields": {"status": "unknown invoice status 'x'"},
    }
    bad = await client.get(f"{BASE}/bg_globex/invoices", params={"status": "open,x"}, headers=AUTH)
    assert bad.status_code == 400
    bad_cursor = await client.get(
        f"{BASE}/bg_globex/invoices", params={"cursor": "nope"}, headers=AUTH
    )
    assert bad_cursor.status_code == 400
    assert set(bad_cursor.json()["fields"]) == {"cursor"}
    too_many = await client.get(f"{BASE}/bg_globex/invoices", params={"limit": 101}, headers=AUTH)
    assert too_many.status_code == 400
    assert set(too_many.json()["fields"]) == {"limit"}


async def test_one_invoice_has_lines_and_document(client: AsyncTestClient[Any]) -> None:
    body = (await client.get(f"{BASE}/bg_globex/invoices/inv_globex_0024", headers=AUTH)).json()
    assert body["lines"]
    assert body["document"]["bucket"] == "invoice-documents"
    assert body["document"]["key"].endswith("inv_globex_0024.pdf")


async def test_payment_methods_exclude_removed_and_flag_default_and_expired(
    client: AsyncTestClient[Any],
) -> None:
    items = (await client.get(f"{BASE}/bg_initech/payment-methods", headers=AUTH)).json()["items"]
    by_id = {m["payment_method_id"]: m for m in items}
    assert "pm_initech_removed" not in by_id
    assert by_id["pm_initech_old_mc"]["is_default"] is True
    assert by_id["pm_initech_old_mc"]["expired"] is True
    assert by_id["pm_initech_visa"]["expired"] is False
    one = await client.get(f"{BASE}/bg_initech/payment-methods/pm_initech_visa", headers=AUTH)
    assert one.json()["payment_method_id"] == "pm_initech_visa"
    removed = await client.get(
        f"{BASE}/bg_initech/payment-methods/pm_initech_removed", headers=AUTH
    )
    assert removed.status_code == 404


async def test_subscriptions_branding_and_account(client: AsyncTestClient[Any]) -> None:
    subs = (await client.get(f"{BASE}/bg_globex/subscriptions", headers=AUTH)).json()["items"]
    assert len(subs) == 4
    branding = (await client.get(f"{BASE}/bg_hooli/branding", headers=AUTH)).json()
    assert branding["entity"]["name"] == "Contoso Telecom"
    assert branding["account_name"] == "Hooli"
    account = await client.get(
        "/internal/v1/tenants/demo/accounts/acc_umbrella/bill-groups", headers=AUTH
    )
    assert account.json()["items"] == [
        {
            "bill_group_id": "bg_umbrella",
            "name": "Umbrella Corporation — main",
            "contract_status": "inactive",
            "currency": "GBP",
        }
    ]


@pytest.mark.parametrize(
    "path",
    [
        # Another bill group's objects, asked for through this bill group.
        "/internal/v1/tenants/demo/bill-groups/bg_initech/invoices/inv_globex_0024",
        "/internal/v1/tenants/demo/bill-groups/bg_initech/payment-methods/pm_globex_visa",
        "/internal/v1/tenants/demo/bill-groups/bg_initech/changes/chg_1",
        # The same ids under another tenant that has its own copy of bg_globex.
        "/internal/v1/tenants/acme/bill-groups/bg_globex/invoices/inv_globex_0023",
        "/internal/v1/tenants/acme/bill-groups/bg_globex/payment-methods/pm_globex_visa",
        "/internal/v1/tenants/acme/bill-groups/bg_globex/changes/chg_1",
        # A tenant or bill group that does not exist at all.
        "/internal/v1/tenants/acme/bill-groups/bg_hooli/overview",
        "/internal/v1/tenants/nobody/bill-groups/bg_globex/invoices",
        "/internal/v1/tenants/demo/bill-groups/bg_nope/subscriptions",
    ],
)
async def test_foreign_ids_answer_404(client: AsyncTestClient[Any], path: str) -> None:
    response = await client.get(path, headers=AUTH)
    assert response.status_code == 404, response.text
    assert response.json()["error"] == "not_found"


async def test_other_tenant_sees_only_its_own_copy(client: AsyncTestClient[Any]) -> None:
    page = await client.get(
        "/internal/v1/tenants/acme/bill-groups/bg_globex/invoices", headers=AUTH
    )
    assert [i["invoice_id"] for i in page.json()["items"]] == ["inv_globex_0024"]


class Commands(monitoring.CommandListener):
    """The read commands this process's MongoDB clients send while `recording`."""

    def __init__(self) -> None:
        self.recording = False
        self.seen: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.recording and event.command_name in (
            "find",
            "aggregate",
            "count",
            "distinct",
            "update",
            "findAndModify",
            "delete",
        ):
            self.seen.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


COMMANDS = Commands()
monitoring.register(COMMANDS)  # applies to clients created from now on (the app's)


def _by_id_only(command: dict[str, Any]) -> int:
    """How many documents a find may return; fails on anything but `_id` equality / `$in`."""
    assert "find" in command, command
    assert set(command.get("filter", {})) == {"_id"}, command
    value = command["filter"]["_id"]
    if isinstance(value, dict):
        assert set(value) == {"$in"}, command
        return len(value["$in"])
    return 1


PAGES = [
    "pages/overview",
    "pages/billing-details",
    "pages/contacts",
    "pages/subscriptions",
    "pages/payment-methods",
    "pages/invoices?limit=20",
    "pages/invoices?status=open,overdue",
    "pages/activity",
    "pages/branding",
    "pages/changes/chg_1",
    "overview",
    "invoices/inv_globex_0024",
    "payment-methods/pm_globex_visa",
    "activity",
    "changes/chg_1",
]


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_reads_a_handful_of_documents_by_id_only(
    client: AsyncTestClient[Any], path: str
) -> None:
    COMMANDS.seen.clear()
    COMMANDS.recording = True
    try:
        response = await client.get(f"{BASE}/bg_globex/{path}", headers=AUTH)
    finally:
        COMMANDS.recording = False
    assert response.status_code == 200, response.text
    assert 1 <= len(COMMANDS.seen) <= 3
    assert sum(_by_id_only(c) for c in COMMANDS.seen) <= 23  # view, entity, a page of invoices


async def test_a_page_answers_everything_it_shows_in_one_response(
    client: AsyncTestClient[Any],
) -> None:
    overview = (await client.get(f"{BASE}/bg_globex/overview", headers=AUTH)).json()
    page = (await client.get(f"{BASE}/bg_globex/pages/billing-details", headers=AUTH)).json()
    assert page["overview"] == overview
    assert page["branding"]["account_name"] == overview["bill_group"]["account_name"]
    methods = (await client.get(f"{BASE}/bg_globex/payment-methods", headers=AUTH)).json()
    assert page["payment_methods"] == methods["items"]
    listed = await client.get(f"{BASE}/bg_globex/invoices", params={"limit": 5}, headers=AUTH)
    invoices = await client.get(f"{BASE}/bg_globex/pages/invoices?limit=5", headers=AUTH)
    assert invoices.json()["invoices"] == listed.json()
    subs = (await client.get(f"{BASE}/bg_globex/pages/subscriptions", headers=AUTH)).json()
    assert len(subs["subscriptions"]) == 4
    assert subs["overview"] is None
    change = (await client.get(f"{BASE}/bg_globex/pages/changes/chg_1", headers=AUTH)).json()
    assert change["change"]["change_id"] == "chg_1"
    unseen = (await client.get(f"{BASE}/bg_globex/pages/changes/chg_x", headers=AUTH)).json()
    assert unseen["change"] is None
    missing = await client.get(f"{BASE}/bg_nope/pages/overview", headers=AUTH)
    assert missing.status_code == 404
    unknown = await client.get(f"{BASE}/bg_globex/pages/nope", headers=AUTH)
    assert unknown.status_code == 400


async def test_every_contract_valid_id_and_version_is_storable_and_served(
    client: AsyncTestClient[Any], mongo: AsyncMongoClient[dict[str, Any]], database: str
) -> None:
    """Ids with '.', '$', ':', '|', '%' and the largest versions and amounts the contract
    allows (int64): stored, gated, served. A version past 64 bits is contract-invalid: parked
    at once, and the record behind it is applied."""
    tenant, bg, entity = "t.$:|%1", "$bg.1:|x", "ent.$"
    top = INT64_MAX
    globex = next(e for e in DEMO.events if e.aggregate_id == "bg_globex").payload
    state = globex.model_copy(update={"bill_group_id": bg, "entity_id": entity})
    invoice = next(e for e in DEMO.events if e.aggregate_id == "inv_globex_0024").payload
    invoice = invoice.model_copy(
        update={
            "bill_group_id": bg,
            "invoice_id": "inv.$1:|",
            "status": billing.InvoiceStatus.OPEN,
            "amount_due_minor": top,
        }
    )
    marker = billing.EntityState(entity_id="ent.marker", name="Behind the invalid one")
    events = [
        make_event(state, tenant_id=tenant, aggregate_id=bg, aggregate_version=top),
        make_event(
            state.model_copy(update={"name": "older"}),
            tenant_id=tenant,
            aggregate_id=bg,
            aggregate_version=top - 1,
        ),
        make_event(
            billing.EntityState(entity_id=entity, name="Dotted"),
            tenant_id=tenant,
            aggregate_id=entity,
            aggregate_version=0,
        ),
        make_event(
            invoice, tenant_id=tenant, aggregate_id=invoice.invoice_id, aggregate_version=top
        ),
        make_event(marker, tenant_id=tenant, aggregate_id=marker.entity_id, aggregate_version=1),
    ]
    batch = records(events)
    past_64_bits = json.loads(batch[0].value)
    past_64_bits["aggregate_version"] = 2**64
    invalid = replace(batch[0], offset=len(batch), value=json.dumps(past_64_bits).encode())
    apply, parked = projector(mongo[database])
    await apply.handle_batch([*batch[:-1], invalid, batch[-1]])
    assert [(record, type(error).__name__) for record, error in parked] == [
        (invalid, "ContractError")
    ]
    base = f"/internal/v1/tenants/{quote(tenant, safe='')}/bill-groups/{quote(bg, safe='')}"
    page = (await client.get(f"{base}/pages/overview", headers=AUTH)).json()
    assert page["overview"]["bill_group"]["name"] == globex.name  # the newest version won
    assert page["branding"]["entity"]["name"] == "Dotted"
    assert page["overview"]["summary"]["outstanding"][0]["amount_minor"] == top
    one = await client.get(f"{base}/invoices/{quote(invoice.invoice_id, safe='')}", headers=AUTH)
    assert one.status_code == 200, one.text
    assert one.json()["amount_due_minor"] == top
    stored = await mongo[database][db.READ_MODEL].find_one(
        {"_id": db.entity_id(tenant, marker.entity_id)}
    )
    assert stored is not None


async def test_projection_writes_select_by_id_only(stack: StackHandle, database: str) -> None:
    """The batch's writes: ONE unordered bulk write, every statement filtered by `_id` alone
    (the version gate is in the update, `$max`), so no write ever scans."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.endpoints.mongodb_uri)
    await client.aconnect()
    try:
        apply, parked = projector(client[database])
        COMMANDS.seen.clear()
        COMMANDS.recording = True
        try:
            await apply.handle_batch(records(list(DEMO.events)))
        finally:
            COMMANDS.recording = False
    finally:
        await client.close()
    assert not parked
    writes = [c for c in COMMANDS.seen if "update" in c]
    assert len(writes) == 1, [c.get("update") for c in COMMANDS.seen]
    [bulk] = writes
    assert bulk["ordered"] is False
    statements = bulk["updates"]
    assert len(statements) > len(DEMO.events)  # invoices and bill groups write two documents
    assert all(set(s["q"]) == {"_id"} and not isinstance(s["q"]["_id"], dict) for s in statements)
