"""A change Kafka does not acknowledge is an error for the caller, never a silent loss."""

import asyncio
import socket

import pytest

from portal_contracts.billing import BillingProfile
from portal_contracts.portal import BillingProfileChangeRequested
from portal_gateway.clients.changes import ChangePublisher
from portal_gateway.clients.models import Session
from portal_gateway.errors import PublishError
from portal_gateway.settings import Settings


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_kafka_raises_publish_error() -> None:
    publisher = ChangePublisher(Settings(kafka_bootstrap=f"127.0.0.1:{closed_port()}"))
    session = Session(
        session_token="tok",
        tenant_id="t1",
        bill_group_id="bg1",
        email="jane@acme.com",
        read_only=False,
        expires_at="2099-01-01T00:00:00Z",
    )
    change = BillingProfileChangeRequested(
        change_id="chg_0123456789abcdef0123456789abcdef",
        bill_group_id="bg1",
        actor_email=session.email,
        billing_profile=BillingProfile(po_number="PO-1"),
    )

    async def publish() -> None:
        try:
            await publisher.publish(session, change)
        finally:
            await publisher.stop()

    with pytest.raises(PublishError):
        asyncio.run(publish())
