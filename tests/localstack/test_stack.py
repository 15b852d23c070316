"""The foundation's acceptance: real Kafka, MongoDB (mongo-java-server) and moto, over sockets."""

import asyncio
import email
from email import policy
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

import boto3
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from portal_contracts.billing import InvoiceState
from portal_contracts.codec import decode, encode, headers_for, make_event
from portal_contracts.examples import EXAMPLES
from portal_contracts.registry import EventType
from portal_contracts.topics import TOPICS, Topic
from portal_localstack.aws import AWS_REGION, SENDER_DOMAIN, sent_emails
from portal_localstack.testing import Isolation, StackHandle

pytestmark = pytest.mark.integration


async def test_contract_event_through_kafka_into_mongodb(
    stack: StackHandle,
    isolation: Isolation,
    topics: list[str],
    mongo: AsyncMongoClient[dict[str, Any]],
) -> None:
    topic = isolation.topic_prefix + Topic.INVOICES
    collection = mongo[isolation.database("foundation")]["invoices"]
    broker = KafkaBroker(stack.endpoints.kafka_bootstrap, acks="all")
    written = asyncio.Event()

    @broker.subscriber(
        topic,
        group_id=f"{isolation.token}-g",
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.ACK,
    )
    async def project(body: dict[str, Any]) -> None:
        event = decode(body)
        await collection.replace_one(
            {"_id": event.aggregate_id},
            {"number": event.payload.number, "version": event.aggregate_version},
            upsert=True,
        )
        written.set()

    invoice = InvoiceState.model_validate(EXAMPLES[(EventType.INVOICE_STATE, 1)])
    event = make_event(invoice, tenant_id="demo", aggregate_id="inv_1", aggregate_version=7)
    await broker.start()
    try:
        await broker.publish(encode(event), topic, key=b"bg_1001", headers=headers_for(event))
        await asyncio.wait_for(written.wait(), 30)
    finally:
        await broker.stop()
    stored = await collection.find_one({"_id": "inv_1"})
    assert stored == {"_id": "inv_1", "number": "INV-2026-0001", "version": 7}


async def test_local_stack_created_every_registry_topic_with_its_partitions(
    stack: StackHandle,
) -> None:
    if stack.local is None:
        pytest.skip("only the local stack creates the registry's topics at start")
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.endpoints.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(TOPICS))
    finally:
        await admin.close()
    partitions = {t["topic"]: len(t["partitions"]) for t in described if not t["error_code"]}
    assert partitions == {name: spec.local_partitions for name, spec in TOPICS.items()}


def test_ses_v2_send_email_is_read_back_from_moto(stack: StackHandle, isolation: Isolation) -> None:
    ses = boto3.client(
        "sesv2",
        endpoint_url=stack.endpoints.aws_endpoint_url,
        region_name=AWS_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    recipient = f"{isolation.token}@customer.example"
    mime = MIMEMultipart("alternative")
    mime["Subject"] = "Your sign-in link"
    mime["From"] = f"portal@{SENDER_DOMAIN}"
    mime["To"] = recipient
    mime.attach(MIMEText("plain body", "plain"))
    mime.attach(MIMEText("<p>html body</p>", "html"))
    reply = ses.send_email(
        FromEmailAddress=f"portal@{SENDER_DOMAIN}",
        Destination={"ToAddresses": [recipient]},
        Content={"Raw": {"Data": mime.as_bytes()}},
    )
    stored = [
        m for m in sent_emails(stack.endpoints.aws_endpoint_url) if m["id"] == reply["MessageId"]
    ]
    assert len(stored) == 1
    parsed = email.message_from_string(str(stored[0]["raw_data"]), policy=policy.default)
    assert parsed["To"] == recipient
    parts = {p.get_content_type(): p.get_content() for p in parsed.walk() if not p.is_multipart()}
    assert parts["text/plain"].strip() == "plain body"
    assert "<p>html body</p>" in parts["text/html"]


def test_unverified_sender_is_rejected_by_moto(stack: StackHandle) -> None:
    ses = boto3.client(
        "sesv2",
        endpoint_url=stack.endpoints.aws_endpoint_url,
        region_name=AWS_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with pytest.raises(ses.exceptions.MessageRejected):
        ses.send_email(
            FromEmailAddress="someone@unverified.example",
            Destination={"ToAddresses": ["x@customer.example"]},
            Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}},
        )
