"""Two tenants that share every id (entities, bill groups, invoices, payment methods,
subscriptions) through all four services: access grants and revokes per tenant, billing-view
keeps two read models, the notifier brands each sign-in email with its own tenant's entity,
and the gateway shows each customer their own tenant's copy only.

The second tenant is the demo scenario seeded again under another tenant id with its names
labelled, so that every page and email says whose copy it is."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from portal_gateway.settings import Settings as GatewaySettings
from portal_localstack.aws import sent_emails
from tests.support.portal import api_headers, sign_in, stored_document
from tests.support.services import DevPortal
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

SESSION_CACHE_SECONDS = GatewaySettings.model_fields["session_cache_seconds"].default
LABEL = "Twin"
BILL_GROUP = "bg_globex"


def _env(portal: DevPortal) -> dict[str, str]:
    return {
        **os.environ,
        **portal.ready["endpoints"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "eu-west-1",
        "ENVIRONMENT": "local",
        "INTERNAL_API_TOKEN": portal.ready["internal_api_token"],
        "SEAL_KEYS": portal.ready["seal_key"],
    }


def _run(portal: DevPortal, *argv: str) -> str:
    exe = str(Path(sys.executable).parent / argv[0])
    done = subprocess.run(
        [exe, *argv[1:]], env=_env(portal), capture_output=True, text=True, check=True
    )
    return done.stdout


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    admin: httpx.Client
    seeded: dict[str, Any]


@pytest.fixture(scope="module")
def twin(portal: DevPortal) -> Iterator[Tenant]:
    tenant_id = f"twin-{uuid.uuid4().hex[:6]}"
    seeded = json.loads(
        _run(portal, "billing-simulator", "seed", "--tenant", tenant_id, "--label", LABEL)
    )
    key = _run(portal, "portal-access", "api-key", "create", "--tenant", tenant_id, "--name", "e2e")
    admin = httpx.Client(
        base_url=f"{portal.ready['gateway_url']}/api/admin/v1",
        headers={"Authorization": f"Bearer {key.strip().splitlines()[-1].strip()}"},
        timeout=30,
    )
    yield Tenant(tenant_id, admin, seeded)
    admin.close()


@pytest.fixture(scope="module")
def demo_admin(portal: DevPortal) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{portal.ready['gateway_url']}/api/admin/v1",
        headers={"Authorization": f"Bearer {portal.ready['admin_api_key']}"},
        timeout=30,
    ) as admin:
        yield admin


def _portal_of(admin: httpx.Client) -> dict[str, Any]:
    """The bill group's portal once access has projected the tenant's bill group."""
    found: dict[str, Any] = {}

    async def projected() -> bool:
        answer = await asyncio.to_thread(admin.get, f"/bill-groups/{BILL_GROUP}/portal")
        if answer.status_code == 200:
            found.update(answer.json())
        return answer.status_code == 200

    asyncio.run(eventually(projected, within=60, what=f"{BILL_GROUP} projected by access"))
    if not found["enabled"]:
        admin.put(f"/bill-groups/{BILL_GROUP}/portal", json={"enabled": True}).raise_for_status()
        found = admin.get(f"/bill-groups/{BILL_GROUP}/portal").json()
    return found


def _grant(admin: httpx.Client, domain: str) -> str:
    rule = admin.post(
        f"/bill-groups/{BILL_GROUP}/portal/rules", json={"kind": "domain", "value": domain}
    )
    assert rule.status_code == 201, rule.text
    rule_id: str = rule.json()["id"]
    return rule_id


def _email_to(aws: str, address: str) -> str:
    texts = [str(m.get("raw_data") or m.get("body")) for m in sent_emails(aws)]
    mine = [t for t in texts if address in t]
    assert mine, f"no email to {address}"
    return mine[-1]


def _overview_of(client: httpx.Client) -> dict[str, Any]:
    answer = client.get("/api/portal/v1/overview")
    assert answer.status_code == 200, answer.text
    overview: dict[str, Any] = answer.json()
    return overview


def test_same_ids_in_two_tenants_stay_two_portals(
    portal: DevPortal, twin: Tenant, demo_admin: httpx.Client
) -> None:
    base = portal.ready["gateway_url"]
    aws = portal.ready["endpoints"]["AWS_ENDPOINT_URL"]
    twin_portal = _portal_of(twin.admin)
    demo_portal = _portal_of(demo_admin)
    assert twin_portal["portal_url"] != demo_portal["portal_url"]

    run = uuid.uuid4().hex[:8]
    twin_address = f"ap@twin-{run}.example"
    demo_address = f"ap@demo-{run}.example"
    twin_rule = _grant(twin.admin, f"twin-{run}.example")
    demo_rule = _grant(demo_admin, f"demo-{run}.example")
    twin_customer = sign_in(base, twin_portal["portal_url"], twin_address, aws)
    demo_customer = sign_in(base, demo_portal["portal_url"], demo_address, aws)

    # notifier: each sign-in email carries its own tenant's entity branding.
    assert f"{LABEL} Northwind Cloud" in _email_to(aws, twin_address)
    assert f"{LABEL} Northwind Cloud" not in _email_to(aws, demo_address)

    # gateway + billing-view: same bill group id, each tenant's own copy.
    twin_view = _overview_of(twin_customer)
    demo_view = _overview_of(demo_customer)
    assert twin_view["bill_group"]["account_name"] == f"{LABEL} Globex Corporation"
    assert demo_view["bill_group"]["account_name"] == "Globex Corporation"
    assert twin_customer.get("/api/portal/v1/session").json()["tenant_id"] == twin.tenant_id

    # Invoices and payment methods share ids; each tenant's documents are its own files.
    # (Other suites add invoices and cards to the demo copy: compare what the twin holds.)
    invoices = twin_customer.get("/api/portal/v1/invoices", params={"limit": 3}).json()["items"]
    invoice_id = invoices[0]["invoice_id"]
    invoice = twin_customer.get(f"/api/portal/v1/invoices/{invoice_id}").json()
    demo_invoice = demo_customer.get(f"/api/portal/v1/invoices/{invoice_id}").json()
    assert invoice["document"]["key"].startswith(f"{twin.tenant_id}/")
    assert demo_invoice["document"]["key"].startswith("demo/")
    pdf = twin_customer.get(f"/api/portal/v1/invoices/{invoice_id}/pdf")
    assert pdf.status_code == 200
    assert pdf.content == stored_document(aws, invoice["document"])
    twin_methods = {
        m["payment_method_id"]
        for m in twin_customer.get("/api/portal/v1/payment-methods").json()["items"]
    }
    demo_methods = {
        m["payment_method_id"]
        for m in demo_customer.get("/api/portal/v1/payment-methods").json()["items"]
    }
    assert "pm_globex_visa" in twin_methods
    assert twin_methods <= demo_methods

    # A customer change in one tenant is confirmed upstream and lands in that tenant only.
    po = f"TWIN-{run}"
    answer = twin_customer.post(
        "/api/portal/v1/billing-profile",
        json={"po_number": po},
        headers={**api_headers(twin_customer), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert answer.status_code == 202, answer.text

    async def confirmed() -> bool:
        view = await asyncio.to_thread(_overview_of, twin_customer)
        return bool(view["bill_group"]["billing_profile"]["po_number"] == po)

    asyncio.run(eventually(confirmed, within=30, what="twin's PO number confirmed"))
    assert _overview_of(demo_customer)["bill_group"]["billing_profile"]["po_number"] != po

    # access: revoking in one tenant ends that tenant's session only.
    removed = twin.admin.delete(f"/bill-groups/{BILL_GROUP}/portal/rules/{twin_rule}")
    assert removed.status_code == 204
    time.sleep(SESSION_CACHE_SECONDS + 0.2)
    assert twin_customer.get("/api/portal/v1/overview").status_code == 401
    assert demo_customer.get("/api/portal/v1/overview").status_code == 200

    assert demo_admin.delete(f"/bill-groups/{BILL_GROUP}/portal/rules/{demo_rule}").status_code
    twin_customer.close()
    demo_customer.close()
