"""The notifier against the real Kafka, MongoDB (mongo-java-server locally) and moto's SES
(issue 5 acceptance)."""

import asyncio
import json
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from portal_contracts.codec import decode, encode
from portal_contracts.envelope import Envelope
from portal_contracts.topics import Topic
from portal_localstack.aws import SENDER_DOMAIN
from portal_localstack.testing import Isolation, StackHandle
from portal_notifier import cli
from portal_notifier.keys import tenant_key
from tests.notifier.conftest import (
    LOGO_URL,
    FaultProxy,
    branding_events,
    emails_to,
    metric_value,
    notifier_settings,
    parts,
    producer,
    publish,
    read_topic,
    running_notifier,
    signin_event,
    wait_for_emails,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

Mongo = AsyncMongoClient[dict[str, Any]]
RETRIES = "portal_notifier_send_retries_total"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.images: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.append(dict(attrs)["href"] or "")
        if tag == "img":
            self.images.append(dict(attrs))


async def _delivery(mongo: Mongo, isolation: Isolation, event: Envelope[Any]) -> dict[str, Any]:
    """The delivery record once settled (SES stores an email before the notifier records
    that it was accepted, so an email in moto alone does not mean "settled")."""
    deliveries = mongo[isolation.database("notifier")]["deliveries"]
    found: dict[str, Any] = {}
    key = tenant_key(event.tenant_id, str(event.event_id))

    async def settled() -> bool:
        doc = await deliveries.find_one({"_id": key})
        if doc is None or doc["state"] in {"pending", "sending"}:
            return False
        found.update(doc)
        return True

    await eventually(settled, 30, f"delivery {key} settled")
    return found


async def test_branded_email_with_both_parts_and_the_sealed_link(
    stack: StackHandle,
    isolation: Isolation,
    topics: list[str],
    mongo: Mongo,
    capsys: pytest.CaptureFixture[str],
) -> None:
    recipient = f"{isolation.token}@globex.example"
    unbranded = f"{isolation.token}.neutral@globex.example"
    settings = notifier_settings(stack, isolation)
    async with running_notifier(settings) as client, producer(stack) as broker:
        assert (await client.get("/readyz")).status_code == 200
        for topic, event in branding_events():
            await publish(broker, isolation, topic, event)

        async def projected() -> bool:
            db = mongo[isolation.database("notifier")]
            return bool(
                await db["entities"].find_one({"entity_id": "ent_1"})
                and await db["bill_groups"].find_one({"bill_group_id": "bg_1"})
            )

        await eventually(projected, what="branding projection")
        signin = signin_event(recipient)
        await publish(broker, isolation, Topic.PORTAL_SIGNIN, signin.event)
        # Branding of this bill group never arrived: neutral branding, not a failure.
        neutral = signin_event(unbranded, bill_group_id="bg_unknown", entity_id=None)
        await publish(broker, isolation, Topic.PORTAL_SIGNIN, neutral.event)
        [message] = await wait_for_emails(stack, recipient)
        [plain_message] = await wait_for_emails(stack, unbranded)
        stored = await _delivery(mongo, isolation, signin.event)
        await _delivery(mongo, isolation, neutral.event)
        metrics = (await client.get("/metrics")).text

    assert message["From"] == f"Acme Billing GmbH <portal@{SENDER_DOMAIN}>"
    assert message["Subject"] == "Sign in to Acme Billing GmbH"
    assert message.get_content_type() == "multipart/alternative"
    body = parts(message)
    assert set(body) == {"text/plain", "text/html"}
    html, text = body["text/html"], body["text/plain"]
    links = _Links()
    links.feed(html)
    assert links.hrefs == [signin.link]
    assert [img["src"] for img in links.images] == [LOGO_URL]
    assert links.images[0]["alt"] == "Acme"
    for part in (html, text):
        assert "Acme Billing GmbH" in part
        assert "Globex Corporation (Globex EMEA)" in part
        assert signin.code in part
        assert "valid for 15 minutes" in part
    assert signin.link in text
    assert "ignore this email" in text

    neutral_parts = parts(plain_message)
    assert "Customer Portal" in neutral_parts["text/plain"]
    assert neutral.link in neutral_parts["text/plain"]
    assert "<img" not in neutral_parts["text/html"]

    assert stored["state"] == "sent"
    assert stored["attempts"] == 1
    assert "portal_notifier_emails_sent_total" in metrics
    assert "portal_notifier_ses_send_seconds_bucket" in metrics

    logs = capsys.readouterr().out
    assert "sign-in email sent" in logs
    token = signin.link.rsplit("/", 1)[1]
    for secret in (token, signin.link, signin.code, recipient):
        assert secret not in logs


async def test_same_event_three_times_across_two_replicas_sends_one_email(
    stack: StackHandle, isolation: Isolation, topics: list[str], mongo: Mongo
) -> None:
    recipient = f"{isolation.token}@globex.example"
    marker = f"{isolation.token}.after@globex.example"
    settings = notifier_settings(stack, isolation)
    signin = signin_event(recipient)
    async with (
        running_notifier(settings),
        running_notifier(settings),
        producer(stack) as broker,
    ):
        for _ in range(3):
            await publish(broker, isolation, Topic.PORTAL_SIGNIN, signin.event)
        later = signin_event(marker)
        await publish(broker, isolation, Topic.PORTAL_SIGNIN, later.event)
        await wait_for_emails(stack, marker)
        await wait_for_emails(stack, recipient)
        stored = await _delivery(mongo, isolation, signin.event)
        await _delivery(mongo, isolation, later.event)
    assert len(emails_to(stack, recipient)) == 1
    assert stored["state"] == "sent"


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(400, "ThrottlingException"), (503, "ServiceUnavailable")],
    ids=["throttling", "5xx"],
)
async def test_transient_ses_faults_back_off_without_blocking_other_emails(
    stack: StackHandle,
    isolation: Isolation,
    topics: list[str],
    mongo: Mongo,
    fault_proxy: Callable[..., tuple[FaultProxy, str]],
    status: int,
    error_type: str,
) -> None:
    slow = f"{isolation.token}.slow@globex.example"
    fast = f"{isolation.token}.fast@globex.example"
    proxy, endpoint = fault_proxy(3, status, error_type, only_to=slow)
    settings = notifier_settings(
        stack,
        isolation,
        aws_endpoint_url_sesv2=endpoint,
        retry_base_seconds=0.5,
        retry_cap_seconds=2,
    )
    first = signin_event(slow)
    second = signin_event(fast)
    async with running_notifier(settings) as client, producer(stack) as broker:
        retries = metric_value((await client.get("/metrics")).text, RETRIES)
        await publish(broker, isolation, Topic.PORTAL_SIGNIN, first.event)
        await publish(broker, isolation, Topic.PORTAL_SIGNIN, second.event)
        [slow_email] = await wait_for_emails(stack, slow)
        stored = await _delivery(mongo, isolation, first.event)
        metrics = (await client.get("/metrics")).text
    assert proxy.injected == 3
    assert first.link in parts(slow_email)["text/plain"]
    # The email parked for backoff did not hold up the one behind it on the partition.
    assert len(emails_to(stack, fast)) == 1
    order = [m["To"] for m in emails_to(stack, fast) + emails_to(stack, slow)]
    assert order == [fast, slow]
    assert (stored["state"], stored["attempts"], stored["last_error"]) == ("sent", 4, error_type)
    # One parked retry per injected fault (the fourth attempt went through).
    assert metric_value(metrics, RETRIES) - retries == 3


async def test_permanent_rejection_is_dead_lettered_and_reported_and_later_events_flow(
    stack: StackHandle, isolation: Isolation, topics: list[str], mongo: Mongo
) -> None:
    rejected = f"{isolation.token}.rejected@globex.example"
    after = f"{isolation.token}.after@globex.example"
    # moto refuses a sender whose domain is not verified: SES's MessageRejected.
    settings = notifier_settings(
        stack, isolation, ses_senders={"tenant_bad": "billing@unverified.example"}
    )
    signin = signin_event(rejected, tenant_id="tenant_bad", bill_group_id="bg_bad")
    # As access sends it: with the correlation id of the request that asked for the email.
    bad = signin.event.model_copy(update={"correlation_id": f"{isolation.token}-request"})
    good = signin_event(after)
    async with running_notifier(settings), producer(stack) as broker:
        await publish(broker, isolation, Topic.PORTAL_SIGNIN, bad)
        await publish(broker, isolation, Topic.PORTAL_SIGNIN, good.event)
        await wait_for_emails(stack, after)
        [dead] = await read_topic(stack, isolation.topic_prefix + "dlq.notifier", 1)
        [report] = await read_topic(stack, isolation.topic_prefix + Topic.PORTAL_NOTIFICATIONS, 1)
    assert emails_to(stack, rejected) == []
    assert decode(dead.value).event_id == bad.event_id
    headers = {k: v.decode() for k, v in dead.headers}
    assert headers["dlq.error.type"] == "DeliveryFailedError"
    assert "MessageRejected" in headers["dlq.error.message"]
    assert headers["dlq.source.topic"] == isolation.topic_prefix + Topic.PORTAL_SIGNIN
    assert dead.key == b"bg_bad"
    failed = decode(report.value)
    assert failed.type == "notification.failed"
    assert (failed.tenant_id, report.key) == ("tenant_bad", b"bg_bad")
    assert failed.payload.source_event_id == str(bad.event_id)
    assert failed.payload.reason == "ses_rejected"
    assert failed.correlation_id == bad.correlation_id
    stored = await _delivery(mongo, isolation, bad)
    assert stored["state"] == "failed"


async def test_suppressed_address_is_not_emailed_and_the_cli_manages_the_list(
    stack: StackHandle,
    isolation: Isolation,
    topics: list[str],
    mongo: Mongo,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bounced = f"{isolation.token}.Bounced@globex.example"
    monkeypatch.setenv("MONGODB_URI", stack.endpoints.mongodb_uri)
    monkeypatch.setenv("MONGODB_DATABASE", isolation.database("notifier"))
    assert (
        await asyncio.to_thread(cli.main, ["suppression", "add", bounced, "--reason", "bounce"])
        == 0
    )
    assert await asyncio.to_thread(cli.main, ["suppression", "list"]) == 0
    assert f"{bounced.lower()}\tbounce" in capsys.readouterr().out

    settings = notifier_settings(stack, isolation)
    signin = signin_event(bounced.upper())
    async with running_notifier(settings), producer(stack) as broker:
        await publish(broker, isolation, Topic.PORTAL_SIGNIN, signin.event)
        [report] = await read_topic(stack, isolation.topic_prefix + Topic.PORTAL_NOTIFICATIONS, 1)
    assert decode(report.value).payload.reason == "suppressed"
    assert emails_to(stack, bounced.upper()) == []
    stored = await _delivery(mongo, isolation, signin.event)
    assert stored["state"] == "suppressed"
    capsys.readouterr()
    event_id = str(signin.event.event_id)
    assert (
        await asyncio.to_thread(
            cli.main, ["delivery", "status", "--tenant", "tenant_a", event_id, "unknown"]
        )
        == 0
    )
    [status] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == {
        "event_id": event_id,
        "state": "suppressed",
        "attempts": 1,
        "sent_at": None,
        "reason": "suppressed",
        "last_error": None,
    }

    assert await asyncio.to_thread(cli.main, ["suppression", "remove", bounced]) == 0
    assert await asyncio.to_thread(cli.main, ["suppression", "remove", bounced]) == 1
    assert await asyncio.to_thread(cli.main, ["suppression", "add", "not-an-address"]) == 2
    capsys.readouterr()
    assert await asyncio.to_thread(cli.main, ["suppression", "list"]) == 0
    assert bounced.lower() not in capsys.readouterr().out


async def test_retries_are_bounded_then_reported(
    stack: StackHandle,
    isolation: Isolation,
    topics: list[str],
    mongo: Mongo,
    fault_proxy: Callable[..., tuple[FaultProxy, str]],
) -> None:
    recipient = f"{isolation.token}@globex.example"
    proxy, endpoint = fault_proxy(1000)
    settings = notifier_settings(
        stack,
        isolation,
        aws_endpoint_url_sesv2=endpoint,
        retry_base_seconds=0.1,
        retry_max_attempts=3,
    )
    signin = signin_event(recipient)
    async with running_notifier(settings), producer(stack) as broker:
        await publish(broker, isolation, Topic.PORTAL_SIGNIN, signin.event)
        [report] = await read_topic(stack, isolation.topic_prefix + Topic.PORTAL_NOTIFICATIONS, 1)
        stored = await _delivery(mongo, isolation, signin.event)
    assert decode(report.value).payload.reason == "retries_exhausted"
    assert (stored["state"], stored["attempts"]) == ("failed", 3)
    assert proxy.injected == 3
    assert emails_to(stack, recipient) == []


async def test_a_version_past_64_bits_is_dead_lettered_at_once_and_the_partition_moves_on(
    stack: StackHandle, isolation: Isolation, topics: list[str], mongo: Mongo
) -> None:
    """aggregate_version 2**64 is outside the contract (int64: what MongoDB stores), so it is
    parked at decode, without a single write attempt, and the events behind it on the same
    partition are applied (issue 14: it was retried while the partition waited)."""
    recipient = f"{isolation.token}@globex.example"
    settings = notifier_settings(stack, isolation)
    [(_, entity), (_, group)] = branding_events()
    body = json.loads(encode(group))
    body["aggregate_version"] = 2**64
    poison = json.dumps(body).encode()
    source_topic = isolation.topic_prefix + Topic.BILL_GROUPS
    dead_lettered = f'portal_dead_lettered_total{{group="notifier",topic="{source_topic}"}}'
    bill_groups = mongo[isolation.database("notifier")]["bill_groups"]
    async with running_notifier(settings) as client, producer(stack) as broker:
        before = metric_value((await client.get("/metrics")).text, dead_lettered)
        # Same key (the bill group id), so the same partition: the good state is behind it.
        await broker.publish(poison, source_topic, key=b"bg_1")
        await publish(broker, isolation, Topic.BILL_GROUPS, group)
        await publish(broker, isolation, Topic.ENTITIES, entity)

        async def projected() -> bool:
            doc = await bill_groups.find_one({"_id": tenant_key("tenant_a", "bg_1")})
            return doc is not None and doc["version"] == 5

        await eventually(projected, 60, "the bill group behind the poison message")
        [dead] = await read_topic(stack, isolation.topic_prefix + "dlq.notifier", 1)
        signin = signin_event(recipient)
        await publish(broker, isolation, Topic.PORTAL_SIGNIN, signin.event)
        [message] = await wait_for_emails(stack, recipient)
        after = metric_value((await client.get("/metrics")).text, dead_lettered)
    assert dead.value == poison
    headers = {k: v.decode() for k, v in dead.headers}
    assert headers["dlq.error.type"] == "ContractError"
    assert "aggregate_version" in headers["dlq.error.message"]
    assert headers["dlq.attempts"] == "1"
    assert headers["dlq.source.topic"] == source_topic
    assert dead.key == b"bg_1"
    assert after - before == 1
    assert "Globex Corporation (Globex EMEA)" in parts(message)["text/plain"]
