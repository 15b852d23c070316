"""The security suite runs over the whole real portal (shared with tests/gateway)."""

import pytest

from tests.support.services import DevPortal, shared_dev_portal


@pytest.fixture(scope="session")
def portal() -> DevPortal:
    return shared_dev_portal()
