"""billing-view's metrics from its running app: HTTP requests by route template, build info,
and the consumer lag of its group sampled from the broker (not after each batch)."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from billing_view.app import create_app
from billing_view.projection.handlers import consumed_topics
from billing_view.settings import Settings
from portal_localstack.testing import Isolation, StackHandle
from tests.support.metrics import served_metrics, value

pytestmark = pytest.mark.integration


async def test_billing_view_serves_http_build_and_lag_metrics(
    stack: StackHandle, isolation: Isolation, topics: list[str]
) -> None:
    settings = Settings(
        kafka_bootstrap=stack.endpoints.kafka_bootstrap,
        mongodb_uri=stack.endpoints.mongodb_uri,
        mongodb_database=isolation.database("billing-view"),
        topic_prefix=isolation.topic_prefix,
    )
    group = settings.consumer_group
    async with AsyncTestClient(create_app(settings)) as client:
        text = await served_metrics(client, service="billing-view", group=group)
    for topic in consumed_topics(settings):
        assert value(text, "portal_consumer_lag", group=group, topic=topic, partition="0") == 0
        assert value(text, "portal_dead_lettered_total", group="billing-view", topic=topic) == 0
