"""portal_kit.background: one task however often it is started; stop waits for it to end."""

import asyncio

from portal_kit.background import BackgroundTask


async def test_started_once_and_stopped_only_after_the_loop_ended() -> None:
    runs: list[str] = []
    started = asyncio.Event()

    async def loop() -> None:
        runs.append("run")
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            runs.append("ended")

    task = BackgroundTask("loop", loop)
    task.start()
    task.start()
    await started.wait()
    await task.stop()
    assert runs == ["run", "ended"]
    await task.stop()
    assert runs == ["run", "ended"]
