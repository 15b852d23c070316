"""The one polling helper of the test suites: wait for an observable condition, or fail.

Tests synchronise on what they can observe (a document written, an email sent, a marker event
consumed), never on "quiet for a while". A condition not met in time fails the test loudly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest


async def eventually(
    check: Callable[[], Awaitable[bool]],
    within: float = 60.0,
    what: str = "condition",
    interval: float = 0.1,
) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached within {within}s")
        await asyncio.sleep(interval)
