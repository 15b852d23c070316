"""Integration fixtures: the whole portal, started once per test process (tests/support)."""

import pytest

from tests.support.services import DevPortal, active_bill_group, shared_dev_portal

__all__ = ["active_bill_group"]


@pytest.fixture(scope="session")
def portal() -> DevPortal:
    return shared_dev_portal()
