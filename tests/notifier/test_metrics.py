"""The notifier's metrics: a failure series for every reason before the first failure (so that
`rate(portal_notifier_emails_failed_total[10m]) > 0` fires on the first email given up), and
the running app's HTTP, build and consumer-lag metrics."""

from __future__ import annotations

import pytest

import portal_notifier.metrics  # noqa: F401 - registers the notifier's metrics
from portal_localstack.testing import Isolation, StackHandle
from portal_notifier.consumer import consumed_topics
from portal_notifier.delivery.domain import Reason
from tests.notifier.conftest import notifier_settings, running_notifier
from tests.support.metrics import scraped, served_metrics, value


def test_every_failure_reason_has_a_series_before_any_failure() -> None:
    for reason in Reason:
        found = scraped("portal_notifier_emails_failed_total", reason=reason.value)
        assert found is not None, reason


@pytest.mark.integration
async def test_the_running_notifier_serves_http_build_and_lag_metrics(
    stack: StackHandle, isolation: Isolation, topics: list[str]
) -> None:
    settings = notifier_settings(stack, isolation)
    group = settings.consumer_group
    async with running_notifier(settings) as client:
        text = await served_metrics(client, service="notifier", group=group)
    for topic in consumed_topics(settings):
        assert value(text, "portal_consumer_lag", group=group, topic=topic, partition="0") == 0
        assert value(text, "portal_dead_lettered_total", group="notifier", topic=topic) == 0
