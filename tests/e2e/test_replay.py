"""Replaying billing-view's topics from scratch into a fresh database gives the live model."""

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from billing_view.replay import snapshot
from tests.support.services import DevPortal

pytestmark = pytest.mark.integration


def test_replay_rebuilds_the_live_read_model(portal: DevPortal) -> None:
    endpoints = portal.ready["endpoints"]
    target = f"replay_{uuid.uuid4().hex[:8]}"
    exe = str(Path(sys.executable).parent / "billing-view")

    async def live_and_replayed() -> tuple[dict[str, Any], dict[str, Any]]:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(endpoints["MONGODB_URI"])
        await client.aconnect()
        try:
            # Other suites' changes may still be settling: replay once the live model is quiet.
            live = await snapshot(client["billing_view"])
            for _ in range(60):
                await asyncio.sleep(1)
                again = await snapshot(client["billing_view"])
                if again == live:
                    break
                live = again
            await asyncio.to_thread(
                subprocess.run,
                [exe, "replay", "--database", target],
                env={**os.environ, **endpoints},
                check=True,
                capture_output=True,
            )
            replayed = await snapshot(client[target])
            await client.drop_database(target)
            return live, replayed
        finally:
            await client.close()

    live, replayed = asyncio.run(live_and_replayed())
    assert sum(len(docs) for docs in live.values()) > 100
    assert replayed == live
