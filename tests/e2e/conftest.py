"""End-to-end suites run over exactly what `make dev` runs (`portal-dev`), started once per
test process and shared with the gateway, security and staff suites (tests/support)."""

import pytest

from tests.support.services import DevPortal, shared_dev_portal


@pytest.fixture(scope="session")
def portal() -> DevPortal:
    return shared_dev_portal()
