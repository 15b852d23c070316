"""`portal-access upgrade`: portals of the earlier layout (keyed by bill group id alone) are
rekeyed by (tenant, bill group) with their link, switch and rules kept."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import AsyncMongoClient

from portal_access.db import Mongo
from portal_access.portals.repository import PortalRepository
from portal_access.upgrade import upgrade
from portal_contracts.envelope import utc_now
from portal_localstack.testing import Isolation

pytestmark = pytest.mark.integration


async def test_legacy_portals_are_rekeyed_and_keep_their_link_and_rules(
    isolation: Isolation, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    db = Mongo(mongo, isolation.database("access"))
    legacy_key = "L" * 43
    rule = {
        "id": "rul_1",
        "kind": "domain",
        "value": "customer.example",
        "created_at": utc_now(),
        "created_by": "ops",
    }
    await db.collection("portals").insert_one(
        {
            "_id": "bg_old",
            "tenant_id": "demo",
            "account_id": "acc_1",
            "account_name": "Acme",
            "entity_id": "ent_1",
            "name": "Old",
            "contract_status": "active",
            "version": 4,
            "enabled": True,
            "portal_key": legacy_key,
            "rules": [rule],
            "rev": 3,
            "outbox": [],
            "has_outbox": False,
        }
    )
    await db.collection("consumed").insert_one({"_id": "sgn_1"})

    assert await upgrade(db) == 1
    assert await upgrade(db) == 0

    portals = PortalRepository(db)
    portal = await portals.get("demo", "bg_old")
    assert portal is not None
    assert (portal.enabled, portal.rev, portal.version) == (True, 3, 4)
    assert [r.id for r in portal.rules] == ["rul_1"]
    assert await portals.by_key(legacy_key) == portal
    assert await portals.get("other", "bg_old") is None
    assert await db.collection("portals").find_one({"_id": "bg_old"}) is None
    assert "consumed" not in await db.database.list_collection_names()
