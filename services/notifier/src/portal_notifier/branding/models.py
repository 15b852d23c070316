"""The branding projection's typed records: what the notifier holds of an entity and a bill
group (the newest version it has seen of each)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EntityView:
    name: str
    logo_url: str | None
    logo_alt: str


@dataclass(frozen=True)
class BillGroupView:
    name: str
    account_name: str
    entity_id: str
