"""Synthetic upstream traffic: many bill groups, mixed state events, duplicates, reorderings."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from billing_simulator.scenario import event_for, invoice_state
from portal_contracts import billing
from portal_contracts.envelope import Envelope

_INVOICE_STATUSES = tuple(billing.InvoiceStatus)
_SUB_STATUSES = tuple(billing.SubscriptionStatus)


def _bill_group(tenant: str, n: int, version: int, rng: random.Random) -> billing.BillGroupState:
    return billing.BillGroupState(
        bill_group_id=f"bg_{n:07d}",
        account_id=f"acc_{n // 3:07d}",
        account_name=f"Customer {n // 3}",
        entity_id=f"ent_{n % 4}",
        name=f"Bill group {n} v{version}",
        currency=rng.choice(("EUR", "USD", "GBP")),
        contract_status=rng.choice(tuple(billing.ContractStatus)),
        billing_frequency=rng.choice(tuple(billing.BillingFrequency)),
        auto_pay=rng.random() < 0.5,
        next_billing_date=date(2026, 12, 1) + timedelta(days=version),
        billing_profile=billing.BillingProfile(po_number=f"PO-{n}-{version}"),
        default_payment_method_id=f"pm_{n:07d}_{rng.randrange(3)}",
    )


def ordered_history(
    n_events: int, bill_groups: int, *, seed: int = 7, tenant: str = "stream"
) -> list[Envelope[Any]]:
    """`n_events` state events in upstream order (versions rise per aggregate)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    versions: dict[str, int] = {}
    events: list[Envelope[Any]] = []

    def bump(aggregate: str) -> int:
        versions[aggregate] = versions.get(aggregate, 0) + 1
        return versions[aggregate]

    for i in range(n_events):
        n = rng.randrange(bill_groups)
        bg_id = f"bg_{n:07d}"
        roll = rng.random()
        payload: Any
        if roll < 0.03:
            entity_id = f"ent_{rng.randrange(4)}"
            version = bump(entity_id)
            payload = billing.EntityState(
                entity_id=entity_id, name=f"Entity {entity_id} v{version}"
            )
            aggregate = entity_id
        elif roll < 0.2:
            version = bump(bg_id)
            payload = _bill_group(tenant, n, version, rng)
            aggregate = bg_id
        elif roll < 0.35:
            aggregate = f"sub_{n:07d}_{rng.randrange(2)}"
            version = bump(aggregate)
            payload = billing.SubscriptionState(
                subscription_id=aggregate,
                bill_group_id=bg_id,
                name="Platform",
                status=rng.choice(_SUB_STATUSES),
                start_date=date(2025, 1, 1),
            )
        elif roll < 0.5:
            aggregate = f"pm_{n:07d}_{rng.randrange(3)}"
            version = bump(aggregate)
            payload = billing.PaymentMethodState(
                payment_method_id=aggregate,
                bill_group_id=bg_id,
                type=billing.PaymentMethodType.CARD,
                brand="Visa",
                last4=f"{rng.randrange(10000):04d}",
                exp_month=rng.randint(1, 12),
                exp_year=rng.randint(2024, 2031),
            )
        else:
            seq = rng.randrange(6)
            aggregate = f"inv_{n:07d}_{seq:04d}"
            version = bump(aggregate)
            payload, _ = invoice_state(
                bg_id,
                seq,
                status=rng.choice(_INVOICE_STATUSES),
                issue_date=date(2026, 1 + seq, 1),
                currency="EUR",
                documents_bucket="invoice-documents",
                prefix="STR",
            )
            payload = payload.model_copy(update={"invoice_id": aggregate})
        events.append(
            event_for(payload, tenant_id=tenant, aggregate_id=aggregate, version=version, seq=i)
        )
    return events


def disorder(
    events: list[Envelope[Any]], *, duplicates: float, reorder: float, seed: int = 11
) -> list[Envelope[Any]]:
    """Swap neighbours of one aggregate (reorder) and resend earlier events (duplicates)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    out = list(events)
    last_index: dict[str, int] = {}
    for i, event in enumerate(out):
        j = last_index.get(event.aggregate_id)
        if j is not None and rng.random() < reorder:
            out[i], out[j] = out[j], out[i]
        last_index[event.aggregate_id] = i
    result: list[Envelope[Any]] = []
    for event in out:
        result.append(event)
        if result and rng.random() < duplicates:
            result.append(rng.choice(result[-50:]))
    return result


def stream(
    rate: float,
    seconds: float,
    *,
    bill_groups: int,
    duplicates: float,
    reorder: float,
    seed: int = 7,
    tenant: str = "stream",
) -> Iterator[Envelope[Any]]:
    total = max(1, int(rate * seconds))
    yield from disorder(
        ordered_history(total, bill_groups, seed=seed, tenant=tenant),
        duplicates=duplicates,
        reorder=reorder,
        seed=seed + 1,
    )
