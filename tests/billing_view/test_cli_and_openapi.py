"""The public entry points beside the API: `billing-view documents` (what deploy/sizing.py
measures) and the OpenAPI document's real response shapes. No servers needed."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from billing_view.app import create_app
from billing_view.settings import Settings
from portal_contracts import billing
from portal_contracts.codec import encode, make_event
from portal_contracts.examples import EXAMPLES
from portal_contracts.registry import EventType

EXE = str(Path(sys.executable).parent / "billing-view")


def _documents(stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([EXE, "documents"], input=stdin, capture_output=True, check=False)


def test_documents_prints_the_documents_some_events_build() -> None:
    invoice = billing.InvoiceState.model_validate(EXAMPLES[(EventType.INVOICE_STATE, 1)])
    events = [
        make_event(invoice, tenant_id="t1", aggregate_id=invoice.invoice_id, aggregate_version=v)
        for v in (4, 3)
    ]
    done = _documents(b"".join(encode(e) + b"\n" for e in events) + b"\n")
    assert done.returncode == 0, done.stderr
    described = {d["kind"]: d["document"] for d in map(json.loads, done.stdout.splitlines())}
    assert set(described) == {"invoice", "portal_view"}
    document = described["invoice"]
    assert document["_id"] == f"t1|b|{invoice.bill_group_id}|i|{invoice.invoice_id}"
    assert document["state"]["v"] == "00001:4"
    listing = invoice.model_dump(mode="json", exclude={"lines"})
    assert json.loads(document["state"]["s"]) == listing
    view = described["portal_view"]
    assert view["_id"] == f"t1|b|{invoice.bill_group_id}"
    [entry] = view["inv"].values()
    assert entry["i"] == invoice.invoice_id


def test_documents_refuses_what_the_consumer_would_dead_letter() -> None:
    done = _documents(b'{"type": "invoice.state"\n')
    assert done.returncode == 2
    assert b"line 1" in done.stderr


def test_the_openapi_document_carries_the_response_shapes() -> None:
    app = create_app(Settings(), consume=False)
    schema: dict[str, Any] = app.openapi_schema.to_schema()
    base = "/internal/v1/tenants/{tenant_id}/bill-groups/{bill_group_id}"
    expected = {
        f"{base}/overview": "Overview",
        f"{base}/branding": "Branding",
        f"{base}/subscriptions": "SubscriptionList",
        f"{base}/payment-methods": "PaymentMethodList",
        f"{base}/payment-methods/{{payment_method_id}}": "PaymentMethodView",
        f"{base}/invoices": "InvoicePage",
        f"{base}/invoices/{{invoice_id}}": "InvoiceState",
        f"{base}/activity": "ActivityPage",
        f"{base}/changes/{{change_id}}": "ActivityItem",
        "/internal/v1/tenants/{tenant_id}/accounts/{account_id}/bill-groups": "AccountBillGroups",
    }
    for path, name in expected.items():
        ok = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"] == {"$ref": f"#/components/schemas/{name}"}, path
    summary = schema["components"]["schemas"]["Summary"]["properties"]
    assert {"outstanding", "auto_pay_active", "default_payment_method"} <= set(summary)
