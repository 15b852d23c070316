"""Integration fixtures: the whole portal, started once per test process (tests/support)."""

from typing import Any

import pytest

from tests.support.services import DevPortal, shared_dev_portal


@pytest.fixture(scope="session")
def portal() -> DevPortal:
    return shared_dev_portal()


def active_bill_group(portal: DevPortal, index: int) -> dict[str, Any]:
    """The index-th demo bill group with an active contract (tests pick different ones so
    that their changes never meet)."""
    links = {bg["bill_group_id"]: bg for bg in portal.ready["bill_groups"]}
    seeded = [
        {**bg, **links[bg["bill_group_id"]]}
        for bg in portal.ready["seeded"]["bill_groups"]
        if bg["contract_status"] == "active"
    ]
    return seeded[index]
