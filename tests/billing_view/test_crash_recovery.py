"""Acceptance: `kill -9` of `billing-view run` in the middle of a 20k-event stream (with
duplicates and reorderings), then a restart, ends on exactly the expected read model."""

import functools
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from billing_simulator.publish import Publisher
from billing_simulator.settings import Settings as SimulatorSettings
from billing_simulator.stream import disorder, ordered_history
from billing_view import db as read_model
from billing_view.projection import domain
from billing_view.projection.replay import snapshot
from portal_localstack.ports import free_port
from portal_localstack.testing import Isolation, StackHandle
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EVENTS = 20_000


def expected_read_model(events: list[Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """In-order delivery's result: the newest version of every document, nothing else."""
    writes = domain.newest_per_document(domain.state_write(e) for e in events)
    model: dict[str, dict[str, dict[str, Any]]] = {}
    for write in writes:
        model.setdefault(write.collection, {})[write.id] = write.document()
    return model


def start_service(stack: StackHandle, isolation: Isolation, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **stack.env(),
        "TOPIC_PREFIX": isolation.topic_prefix,
        "MONGODB_DATABASE": isolation.database("billing-view"),
        "HTTP_PORT": str(free_port()),
        "BATCH_MAX_RECORDS": "2000",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "billing-view"), "run"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


WATCHED = (
    read_model.BILL_GROUPS,
    read_model.SUBSCRIPTIONS,
    read_model.INVOICES,
    read_model.PAYMENT_METHODS,
)


async def _progress(db: Any) -> int:
    """Sum of stored versions: grows with every applied event, whatever the document."""
    total = 0
    for collection in WATCHED:
        total += sum(
            [d["current"]["version"] async for d in db[collection].find({}, {"current.version": 1})]
        )
    return total


async def _progressed(db: Any, service: subprocess.Popen[bytes], log: Path, target: int) -> bool:
    assert service.poll() is None, _tail(log)
    return await _progress(db) >= target


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


async def test_kill_9_mid_stream_then_restart_gives_the_exact_read_model(
    stack: StackHandle,
    isolation: Isolation,
    topics: list[str],
    mongo: AsyncMongoClient[dict[str, Any]],
    tmp_path: Path,
) -> None:
    # Few bill groups, many versions each: FerretDB scans a collection for every conditional
    # write, so the test keeps collections small and the history long.
    history = ordered_history(EVENTS, 20, seed=3, tenant="crash")
    delivered = disorder(history, duplicates=0.05, reorder=0.05, seed=4)
    expected = expected_read_model(history)
    watched = sum(d["current"]["version"] for c in WATCHED for d in expected.get(c, {}).values())
    db = mongo[isolation.database("billing-view")]
    settings = SimulatorSettings(
        kafka_bootstrap=stack.endpoints.kafka_bootstrap, topic_prefix=isolation.topic_prefix
    )
    log = tmp_path / "billing-view.log"
    first = start_service(stack, isolation, log)
    try:
        async with Publisher(settings) as publisher:
            half = len(delivered) // 2
            await publisher.publish(delivered[:half])
            # Kill while the service is part-way through what has been published so far.
            await eventually(
                functools.partial(_progressed, db, first, log, watched // 5),
                within=120,
                what="a fifth of the stream applied",
            )
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
            assert await _progress(db) < watched
            await publisher.publish(delivered[half:])
        second = start_service(stack, isolation, log)
        try:
            await eventually(
                functools.partial(_progressed, db, second, log, watched),
                within=180,
                interval=0.5,
                what="the whole stream applied after the restart",
            )

            async def exact() -> bool:
                actual = await snapshot(db)
                return all(actual[c] == expected.get(c, {}) for c in actual)

            await eventually(exact, within=60, interval=1, what="the expected read model")
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(30)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    actual = await snapshot(db)
    for collection in actual:
        assert actual[collection] == expected.get(collection, {}), collection
