"""`seed` puts the demo tenant on Kafka and its PDFs and logos in S3 (moto); `respond`,
started afterwards as its own loop, answers customer changes from what it reads back."""

import asyncio
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from billing_simulator.cli import seed
from billing_simulator.publish import Publisher, publish_new_invoice, s3_client
from billing_simulator.respond import respond
from billing_simulator.settings import Settings
from portal_contracts import billing, portal
from portal_contracts.codec import decode, make_event
from portal_contracts.topics import Topic
from portal_localstack.testing import Isolation, StackHandle

pytestmark = pytest.mark.integration


async def test_seed_then_respond(
    stack: StackHandle,
    isolation: Isolation,
    topics: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in stack.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    settings = Settings(
        kafka_bootstrap=stack.endpoints.kafka_bootstrap,
        topic_prefix=isolation.topic_prefix,
        aws_endpoint_url=stack.endpoints.aws_endpoint_url,
        documents_bucket=f"{isolation.token}-docs",
        logos_bucket=f"{isolation.token}-logos",
    )
    seeded = await seed(settings, "demo")
    assert [bg["bill_group_id"] for bg in seeded["bill_groups"]] == [
        "bg_globex",
        "bg_initech",
        "bg_umbrella",
        "bg_hooli",
        "bg_stark",
    ]
    first = seeded["bill_groups"][0]
    assert {"tenant_id", "account_id", "name", "contract_status", "customer_domain"} <= set(first)
    async with httpx.AsyncClient() as http:
        logo = await http.get(seeded["entities"][0]["logo_url"])
    assert logo.status_code == 200
    assert b"<svg" in logo.content
    s3 = s3_client(settings)
    pdf = s3.get_object(Bucket=settings.documents_bucket, Key="demo/bg_globex/inv_globex_0024.pdf")
    assert pdf["Body"].read().startswith(b"%PDF")
    added = await publish_new_invoice(settings, "bg_globex", 901)
    assert added == {"invoice_id": "inv_globex_0901", "number": "NEW-2026-0901"}
    new_pdf = s3.get_object(
        Bucket=settings.documents_bucket, Key="demo/bg_globex/inv_globex_0901.pdf"
    )
    assert new_pdf["Body"].read().startswith(b"%PDF")
    # Seeding again publishes the same versions: idempotent for every projection.
    again = await seed(settings, "demo")
    assert again["bill_groups"] == seeded["bill_groups"]

    stop = asyncio.Event()
    responder = asyncio.create_task(respond(settings, stop))
    changes = [
        portal.BillingProfileChangeRequested(
            change_id="chg_ok",
            bill_group_id="bg_globex",
            actor_email="ap@globex.example",
            billing_profile=billing.BillingProfile(po_number="PO-2", vat_number="DE136695976"),
        ),
        portal.DefaultPaymentMethodChangeRequested(
            change_id="chg_bad",
            bill_group_id="bg_globex",
            actor_email="ap@globex.example",
            payment_method_id="pm_unknown",
        ),
    ]
    try:
        async with Publisher(settings) as publisher:
            await publisher.publish(
                make_event(c, tenant_id="demo", aggregate_id="bg_globex") for c in changes
            )
        results = await _read(settings, Topic.CHANGE_RESULTS, 2)
        bill_groups = await _read(settings, Topic.BILL_GROUPS, 21)
    finally:
        stop.set()
        await asyncio.wait_for(responder, 30)
    outcomes = {r.payload.change_id: (r.payload.outcome, r.payload.reason) for r in results}
    assert outcomes == {
        "chg_ok": ("accepted", None),
        "chg_bad": ("rejected", "Unknown payment method."),
    }
    newest = max(
        (e for e in bill_groups if e.aggregate_id == "bg_globex"),
        key=lambda e: e.aggregate_version or 0,
    )
    assert newest.aggregate_version == 3
    assert newest.payload.billing_profile.po_number == "PO-2"
    assert newest.correlation_id == "chg_ok"


async def _read(settings: Settings, topic: Topic, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        settings.topic(topic),
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    events: list[Any] = []
    try:
        async with asyncio.timeout(60):
            while len(events) < count:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    events.extend(decode(r.value) for r in batch)
    finally:
        await consumer.stop()
    return events
