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
from billing_view.projection.documents import build
from billing_view.projection.replay import snapshot
from portal_contracts.codec import encode
from portal_localstack.ports import free_port
from portal_localstack.testing import Isolation, StackHandle
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EVENTS = 20_000


def expected_read_model(events: list[Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """In-order delivery's result: the documents the projection's own upserts build."""
    built = build(encode(e) for e in events)
    return {read_model.READ_MODEL: {d["document"]["_id"]: d["document"] for d in built}}


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


def _versions(doc: dict[str, Any]) -> int:
    """Sum of the versions a document holds (its own, its bill group's, its payment
    methods' and subscriptions'): grows with every applied event."""
    held = [(doc.get("state") or {}).get("v"), (doc.get("bg") or {}).get("v")]
    for part in ("pm", "sub"):
        held.extend(item["v"] for item in (doc.get(part) or {}).values())
    return sum(int(v.split(":")[1]) for v in held if isinstance(v, str))


async def _progress(db: Any) -> int:
    return sum([_versions(d) async for d in db[read_model.READ_MODEL].find()])


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
    # Few bill groups, many versions each: many stale and reordered writes per document.
    history = ordered_history(EVENTS, 20, seed=3, tenant="crash")
    delivered = disorder(history, duplicates=0.05, reorder=0.05, seed=4)
    expected = expected_read_model(history)
    watched = sum(_versions(d) for d in expected[read_model.READ_MODEL].values())
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
