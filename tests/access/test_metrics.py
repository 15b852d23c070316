"""access's metrics as Prometheus reads them: the outbox backlog and its oldest entry's age
(a hung relay raises no error, but these grow), HTTP requests by route template, build info,
the consumer lag sampled from the broker, and series that exist before their first event."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from portal_access.db import Mongo
from portal_access.outbox.backlog import BacklogGauges
from portal_access.outbox.models import CHALLENGES, SESSIONS
from portal_access.outbox.repository import OutboxRepository
from portal_contracts.topics import ConsumerGroup, Topic
from portal_localstack.testing import Isolation
from tests.access.conftest import Access
from tests.support.metrics import scraped, served_metrics, value

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def entry(event_id: str, occurred_at: datetime) -> dict[str, Any]:
    body = {"event_id": event_id, "occurred_at": occurred_at.isoformat().replace("+00:00", "Z")}
    return {
        "event_id": event_id,
        "type": "signin.requested",
        "topic": "portal.signin",
        "key": "bg_1",
        "body": json.dumps(body),
        "headers": {},
    }


async def test_outbox_gauges_count_owing_documents_and_age_the_oldest_entry(
    mongo: AsyncMongoClient[dict[str, object]], isolation: Isolation
) -> None:
    db = Mongo(mongo, isolation.database("access"))
    outbox = OutboxRepository(db)
    await outbox.ensure_indexes()
    gauges = BacklogGauges(outbox, clock=lambda: T0 + timedelta(seconds=90))

    await gauges.sample_once()
    assert scraped("portal_access_outbox_backlog") == 0
    assert scraped("portal_access_outbox_oldest_age_seconds") == 0

    challenges, sessions = db.collection(CHALLENGES), db.collection(SESSIONS)
    await challenges.insert_one(
        {
            "_id": "c1",
            "has_outbox": True,
            "outbox": [
                entry("e1", T0 + timedelta(seconds=30)),
                entry("e2", T0 + timedelta(seconds=60)),
            ],
        }
    )
    await sessions.insert_one({"_id": "s1", "has_outbox": True, "outbox": [entry("e3", T0)]})
    await sessions.insert_one({"_id": "s2", "has_outbox": False, "outbox": []})

    await gauges.sample_once()
    assert scraped("portal_access_outbox_backlog") == 2
    assert scraped("portal_access_outbox_oldest_age_seconds") == 90

    # The relay published the oldest: the age is the next one's.
    await sessions.update_one({"_id": "s1"}, {"$set": {"has_outbox": False, "outbox": []}})
    await gauges.sample_once()
    assert scraped("portal_access_outbox_backlog") == 1
    assert scraped("portal_access_outbox_oldest_age_seconds") == 60


async def test_access_serves_http_build_and_lag_metrics(access: Access) -> None:
    settings = access.settings
    group = settings.topic_prefix + ConsumerGroup.ACCESS
    bill_groups = settings.topic(Topic.BILL_GROUPS)
    text = await served_metrics(access.client, service="access", group=group)
    assert value(text, "portal_consumer_lag", group=group, topic=bill_groups, partition="0") == 0
    for outcome in ("applied", "stale", "dead_lettered"):
        projected = "portal_access_bill_groups_projected_total"
        assert value(text, projected, outcome=outcome) is not None, outcome
    for event_type in ("signin.requested", "portal.enabled", "access.revoked"):
        relayed = value(text, "portal_access_outbox_relayed_total", type=event_type)
        assert relayed is not None, event_type
    dead = value(text, "portal_dead_lettered_total", group="access", topic=bill_groups)
    assert dead == 0
    for topic in (Topic.PORTAL_ACCESS, Topic.PORTAL_SIGNIN):
        failed = value(
            text,
            "portal_kafka_published_total",
            service="access",
            topic=settings.topic(topic),
            outcome="error",
        )
        assert failed == 0, topic
