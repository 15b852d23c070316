import sys
from pathlib import Path

import pytest

from portal_localstack.process import ManagedProcess, ServerDiedError


def test_a_server_that_dies_is_reported_with_its_log_tail(tmp_path: Path) -> None:
    script = "import sys; print('binding 127.0.0.1:1: address already in use'); sys.exit(3)"
    process = ManagedProcess("doomed", [sys.executable, "-c", script], tmp_path / "doomed.log")
    process.start()
    with pytest.raises(ServerDiedError, match=r"(?s)exited with code 3.*address already in use"):
        process.wait_until(lambda: False, timeout=30, what="ready")


def test_a_server_that_never_gets_ready_times_out_with_its_log_tail(tmp_path: Path) -> None:
    script = "import time; print('still loading', flush=True); time.sleep(60)"
    process = ManagedProcess("slow", [sys.executable, "-c", script], tmp_path / "slow.log")
    process.start()
    try:
        with pytest.raises(TimeoutError, match=r"(?s)not ready after.*still loading"):
            process.wait_until(lambda: False, timeout=1.5, what="ready")
    finally:
        process.stop()
    assert not process.alive()
