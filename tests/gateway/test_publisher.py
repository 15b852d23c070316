"""A change Kafka does not acknowledge is an error for the caller, never a silent loss."""

import asyncio

import pytest

from portal_gateway.clients.changes import ChangePublisher
from portal_gateway.errors import PublishError
from tests.gateway import fakes
from tests.gateway.fakes import offline_settings, profile_change


def test_unreachable_kafka_raises_publish_error() -> None:
    publisher = ChangePublisher(offline_settings())
    session = fakes.session()
    change = profile_change(session)

    async def publish() -> None:
        try:
            await publisher.publish(session, change)
        finally:
            await publisher.stop()

    with pytest.raises(PublishError):
        asyncio.run(publish())
