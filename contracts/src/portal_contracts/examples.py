"""One realistic example payload per (event type, version); CI decodes every one of them."""

from __future__ import annotations

from typing import Any

from portal_contracts.registry import EventType

EXAMPLES: dict[tuple[EventType, int], dict[str, Any]] = {
    (EventType.ENTITY_STATE, 1): {
        "entity_id": "ent_acme_eu",
        "name": "Acme Cloud EU",
        "logo": {"url": "https://cdn.example.com/acme.svg", "alt": "Acme Cloud"},
    },
    (EventType.BILL_GROUP_STATE, 1): {
        "bill_group_id": "bg_1001",
        "account_id": "acc_globex",
        "account_name": "Globex Corporation",
        "entity_id": "ent_acme_eu",
        "name": "Globex — EU operations",
        "currency": "EUR",
        "contract_status": "active",
        "billing_frequency": "monthly",
        "auto_pay": True,
        "next_billing_date": "2026-12-01",
        "billing_profile": {"po_number": "PO-7781", "vat_number": "DE136695976"},
        "billing_contact": {
            "name": "Hank Scorpio",
            "email": "ap@globex.example",
            "address": {"line1": "1 Globex Way", "city": "Berlin", "country": "DE"},
        },
        "default_payment_method_id": "pm_visa_4242",
    },
    (EventType.SUBSCRIPTION_STATE, 1): {
        "subscription_id": "sub_1",
        "bill_group_id": "bg_1001",
        "name": "Platform Pro",
        "status": "active",
        "start_date": "2026-01-01",
        "items": [
            {
                "product_name": "Seats",
                "quantity": 25,
                "unit_price_minor": 1900,
                "currency": "EUR",
                "period": "month",
            }
        ],
    },
    (EventType.INVOICE_STATE, 1): {
        "invoice_id": "inv_1",
        "bill_group_id": "bg_1001",
        "number": "INV-2026-0001",
        "status": "open",
        "issue_date": "2026-11-01",
        "due_date": "2026-12-01",
        "currency": "EUR",
        "subtotal_minor": 47500,
        "tax_minor": 9025,
        "total_minor": 56525,
        "amount_due_minor": 56525,
        "amount_paid_minor": 0,
        "lines": [
            {
                "description": "Seats x 25",
                "quantity": 25,
                "unit_amount_minor": 1900,
                "amount_minor": 47500,
            }
        ],
        "document": {
            "bucket": "invoices",
            "key": "demo/inv_1.pdf",
            "filename": "INV-2026-0001.pdf",
            "size_bytes": 1820,
        },
    },
    (EventType.PAYMENT_METHOD_STATE, 1): {
        "payment_method_id": "pm_visa_4242",
        "bill_group_id": "bg_1001",
        "type": "card",
        "brand": "Visa",
        "last4": "4242",
        "exp_month": 4,
        "exp_year": 2029,
        "holder_name": "Hank Scorpio",
    },
    (EventType.CHANGE_RESULT, 1): {
        "change_id": "chg_1",
        "bill_group_id": "bg_1001",
        "outcome": "rejected",
        "reason": "VAT number is not registered in VIES",
    },
    (EventType.PORTAL_ENABLED, 1): {"bill_group_id": "bg_1001", "actor": "staff@acme.example"},
    (EventType.PORTAL_DISABLED, 1): {"bill_group_id": "bg_1001", "actor": "staff@acme.example"},
    (EventType.ACCESS_GRANTED, 1): {
        "bill_group_id": "bg_1001",
        "rule_id": "rule_1",
        "kind": "domain",
        "value": "globex.example",
        "actor": "staff@acme.example",
    },
    (EventType.ACCESS_REVOKED, 1): {
        "bill_group_id": "bg_1001",
        "rule_id": "rule_1",
        "kind": "domain",
        "value": "globex.example",
        "actor": "staff@acme.example",
        "sessions_ended": 2,
    },
    (EventType.PORTAL_LINK_ROTATED, 1): {
        "bill_group_id": "bg_1001",
        "actor": "staff@acme.example",
    },
    (EventType.SIGNIN_REQUESTED, 1): {
        "challenge_id": "chl_1",
        "bill_group_id": "bg_1001",
        "entity_id": "ent_acme_eu",
        "email": "ap@globex.example",
        "expires_at": "2026-11-24T12:15:00Z",
        "sealed": "gAAAAABn-sealed-link-and-code",
    },
    (EventType.SIGNIN_COMPLETED, 1): {
        "challenge_id": "chl_1",
        "bill_group_id": "bg_1001",
        "email": "ap@globex.example",
        "method": "link",
    },
    (EventType.BILLING_PROFILE_CHANGE_REQUESTED, 1): {
        "change_id": "chg_1",
        "bill_group_id": "bg_1001",
        "actor_email": "ap@globex.example",
        "billing_profile": {"po_number": "PO-9000", "vat_number": "DE136695976"},
    },
    (EventType.CONTACT_CHANGE_REQUESTED, 1): {
        "change_id": "chg_2",
        "bill_group_id": "bg_1001",
        "actor_email": "ap@globex.example",
        "role": "shipping",
        "contact": {
            "name": "Dock 4",
            "address": {"line1": "Pier 4", "city": "Hamburg", "country": "DE"},
        },
    },
    (EventType.DEFAULT_PAYMENT_METHOD_CHANGE_REQUESTED, 1): {
        "change_id": "chg_3",
        "bill_group_id": "bg_1001",
        "actor_email": "ap@globex.example",
        "payment_method_id": "pm_sepa_3000",
    },
    (EventType.PAYMENT_METHOD_ADD_REQUESTED, 1): {
        "change_id": "chg_4",
        "bill_group_id": "bg_1001",
        "actor_email": "ap@globex.example",
        "payment_method_id": "pm_new_1",
        "vault_token": "tok_sandbox_abcdef123456",
        "type": "card",
        "brand": "Mastercard",
        "last4": "4444",
        "exp_month": 9,
        "exp_year": 2030,
        "make_default": True,
    },
    (EventType.NOTIFICATION_FAILED, 1): {
        "source_event_id": "6f1c1b1e-8a7e-4a57-9c55-3f2f8f8c1a00",
        "bill_group_id": "bg_1001",
        "reason": "MessageRejected: address is on the suppression list",
        "failed_at": "2026-11-24T12:00:01Z",
    },
}
