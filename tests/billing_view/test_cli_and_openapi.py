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


def test_documents_prints_what_a_state_event_becomes() -> None:
    invoice = billing.InvoiceState.model_validate(EXAMPLES[(EventType.INVOICE_STATE, 1)])
    event = make_event(
        invoice, tenant_id="t1", aggregate_id=invoice.invoice_id, aggregate_version=4
    )
    done = _documents(encode(event) + b"\n\n")
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    described = json.loads(line)
    assert described["collection"] == "invoices"
    document = described["document"]
    assert document["_id"] == f"t1|{invoice.invoice_id}"
    assert document["current"]["version"] == 4
    assert document["current"]["state"] == invoice.model_dump(mode="json")
    assert ["_id"] in described["indexes"]
    newest = ["current.issue_date", "current.number", "invoice_id"]
    assert ["tenant_id", "bill_group_id", "current.status", *newest] in described["indexes"]


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
