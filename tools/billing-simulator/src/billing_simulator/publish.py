"""Getting a scenario's events onto Kafka and its documents and logos into S3."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import boto3
from aiokafka import AIOKafkaProducer

from billing_simulator import scenario
from billing_simulator.scenario import Asset
from billing_simulator.settings import Settings
from portal_contracts.codec import encode, headers_for
from portal_contracts.envelope import Envelope
from portal_contracts.registry import EVENTS


def topic_of(event: Envelope[Any]) -> str:
    return EVENTS[(event.type, event.schema_version)].topic.value


def key_of(event: Envelope[Any]) -> bytes:
    """Everything about a bill group is keyed by it (ordering per bill group); entities by id."""
    bill_group_id = getattr(event.payload, "bill_group_id", None)
    return str(bill_group_id or event.aggregate_id).encode()


class Publisher:
    """An idempotent, acks=all producer: what an upstream system would publish with."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_batch_size=256 * 1024,
        )

    async def __aenter__(self) -> Publisher:
        await self.producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()

    async def send(self, event: Envelope[Any]) -> asyncio.Future[Any]:
        """Queue one event; the returned future resolves when the broker has it."""
        headers = [(k, v.encode()) for k, v in headers_for(event).items()]
        future: asyncio.Future[Any] = await self.producer.send(
            self.settings.topic(topic_of(event)), encode(event), key=key_of(event), headers=headers
        )
        return future

    async def publish(self, events: Iterable[Envelope[Any]]) -> int:
        pending = [await self.send(event) for event in events]
        await asyncio.gather(*pending)
        return len(pending)

    async def publish_raw(self, topic: str, value: bytes, key: bytes) -> None:
        await (await self.producer.send(self.settings.topic(topic), value, key=key))


def s3_client(settings: Settings) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=settings.aws_endpoint_url,
        region_name=settings.aws_region,
    )


def upload(settings: Settings, assets: Iterable[Asset]) -> int:
    """Create the buckets if missing and put every asset (same key, same bytes: idempotent)."""
    s3 = s3_client(settings)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    count = 0
    for asset in assets:
        if asset.bucket not in existing:
            config = {}
            if settings.aws_region != "us-east-1":
                config = {"CreateBucketConfiguration": {"LocationConstraint": settings.aws_region}}
            s3.create_bucket(Bucket=asset.bucket, **config)
            existing.add(asset.bucket)
        # Logos are public images (browsers and mail clients fetch them without credentials);
        # invoice PDFs stay private and reach customers only through the gateway.
        extra = {"ACL": "public-read"} if asset.content_type.startswith("image/") else {}
        s3.put_object(
            Bucket=asset.bucket,
            Key=asset.key,
            Body=asset.body,
            ContentType=asset.content_type,
            **extra,
        )
        count += 1
    return count


async def publish_new_invoice(
    settings: Settings,
    bill_group_id: str,
    seq: int,
    *,
    tenant_id: str = scenario.TENANT,
    currency: str = "EUR",
) -> dict[str, Any]:
    """Upload a new open invoice's PDF, then publish it (what e2e tests watch appear)."""
    event, asset = scenario.new_invoice(
        bill_group_id,
        seq,
        tenant_id=tenant_id,
        currency=currency,
        documents_bucket=settings.documents_bucket,
    )
    await asyncio.to_thread(upload, settings, [asset])
    async with Publisher(settings) as publisher:
        await publisher.publish([event])
    return {"invoice_id": event.aggregate_id, "number": event.payload.number}
