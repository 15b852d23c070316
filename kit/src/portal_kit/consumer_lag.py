"""Consumer lag that keeps moving when a consumer stalls.

Sampled every few seconds from the broker, not from the consumer: the end offset of each
partition of the group's topics minus the group's committed offset. A consumer that is stuck
(a held partition, a hung handler, a dead process whose group still exists) commits nothing,
so its lag grows with every record published — a lag computed after each batch would freeze
at its last value exactly then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import Gauge

from portal_kit.background import BackgroundTask
from portal_kit.settings import CommonSettings

log = logging.getLogger(__name__)

LAG = Gauge(
    "portal_consumer_lag",
    "Records published but not yet committed by the group (end offset - committed offset)",
    ["group", "topic", "partition"],
)
LAG_SAMPLED = Gauge(
    "portal_consumer_lag_sampled_timestamp_seconds",
    "When the consumer lag of the group was last sampled from the broker",
    ["group"],
)


class ConsumerLag:
    """`start()` samples the lag of `group` on `topics` every `interval_seconds` until
    `stop()`. A partition the group never committed counts from its first offset (the
    consumers start from the earliest record)."""

    def __init__(
        self,
        settings: CommonSettings,
        *,
        group: str,
        topics: Sequence[str],
        interval_seconds: float = 5.0,
    ) -> None:
        self._settings = settings
        self.group = group
        self._topics = tuple(topics)
        self._interval = interval_seconds
        self._background = BackgroundTask(f"consumer-lag-{group}", self._run)

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    async def sample_once(self) -> None:
        """One sample with clients of its own (tests, tools); the task keeps its clients."""
        async with _Clients(self._settings) as (admin, offsets):
            await self._sample(admin, offsets)

    async def _sample(self, admin: AIOKafkaAdminClient, offsets: AIOKafkaConsumer) -> None:
        described = await admin.describe_topics(list(self._topics))
        partitions = [
            TopicPartition(topic["topic"], p["partition"])
            for topic in described
            if topic["topic"] in self._topics
            for p in topic["partitions"]
        ]
        if not partitions:
            return
        committed = await admin.list_consumer_group_offsets(self.group, partitions=partitions)
        ends = await offsets.end_offsets(partitions)
        firsts = await offsets.beginning_offsets(partitions)
        for tp in partitions:
            mark = committed.get(tp)
            position = mark.offset if mark is not None and mark.offset >= 0 else firsts[tp]
            LAG.labels(self.group, tp.topic, str(tp.partition)).set(max(0, ends[tp] - position))
        LAG_SAMPLED.labels(self.group).set_to_current_time()

    async def _run(self) -> None:
        while True:
            try:
                async with _Clients(self._settings) as (admin, offsets):
                    while True:
                        await self._sample(admin, offsets)
                        await asyncio.sleep(self._interval)
            except Exception:
                # Kafka away: the sample timestamp stops moving; retry with new clients.
                log.warning(
                    "could not sample consumer lag", extra={"group": self.group}, exc_info=True
                )
            await asyncio.sleep(self._interval)


class _Clients(
    contextlib.AbstractAsyncContextManager[tuple[AIOKafkaAdminClient, AIOKafkaConsumer]]
):
    """An admin client (committed offsets) and a group-less consumer (end offsets)."""

    def __init__(self, settings: CommonSettings) -> None:
        options = settings.kafka_client_options()
        bootstrap = settings.kafka_bootstrap
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options)
        self._offsets = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, **options
        )

    async def __aenter__(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        await self._admin.start()
        try:
            await self._offsets.start()
        except BaseException:
            await self._admin.close()
            raise
        return self._admin, self._offsets

    async def __aexit__(self, *_: object) -> None:
        try:
            await self._offsets.stop()
        finally:
            await self._admin.close()
