"""The access use cases wired to in-memory fakes, as `app.py` wires them to MongoDB."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from portal_access.api_keys.models import Principal
from portal_access.api_keys.service import CallerService
from portal_access.portals.domain import PortalUrls
from portal_access.portals.models import Portal
from portal_access.portals.preview import PreviewService
from portal_access.portals.service import PortalService
from portal_access.sessions.service import SessionService
from portal_access.signin.domain import RateLimit
from portal_access.signin.service import SigninPolicy, SigninService
from portal_access.staff_links.service import StaffLinkService
from portal_kit.sealing import DEV_SEAL_KEY
from tests.access.unit.fakes import (
    Clock,
    FakeApiKeys,
    FakeAudit,
    FakeChallenges,
    FakeCounters,
    FakePortals,
    FakeSessions,
    FakeStaffLinks,
    Woken,
)

BASE_URL = "https://portal.example"
INTERNAL_TOKEN = "internal-token"
STAFF = Principal("demo", "ops@merchant.example")


@dataclass
class World:
    clock: Clock = field(default_factory=Clock)
    woken: Woken = field(default_factory=Woken)
    portal_repo: FakePortals = field(default_factory=FakePortals)
    session_repo: FakeSessions = field(default_factory=FakeSessions)
    challenge_repo: FakeChallenges = field(default_factory=FakeChallenges)
    counters: FakeCounters = field(default_factory=FakeCounters)
    audit: FakeAudit = field(default_factory=FakeAudit)
    keys: FakeApiKeys = field(default_factory=FakeApiKeys)
    staff_repo: FakeStaffLinks = field(default_factory=FakeStaffLinks)
    per_email: int = 5

    def __post_init__(self) -> None:
        urls = PortalUrls(BASE_URL)
        self.sessions = SessionService(
            self.session_repo, self.portal_repo, self.audit, self.woken, self.clock
        )
        self.portals = PortalService(
            self.portal_repo, self.sessions, self.audit, urls, self.woken, self.clock
        )
        policy = SigninPolicy(
            per_email=RateLimit("email", self.per_email, 900),
            per_ip=RateLimit("ip", 30, 900),
            per_portal=RateLimit("portal", 300, 60),
            seal_keys=DEV_SEAL_KEY,
            urls=urls,
        )
        self.signin = SigninService(
            self.portal_repo,
            self.challenge_repo,
            self.counters,
            self.sessions,
            policy,
            self.woken,
            self.clock,
        )
        self.previews = PreviewService(
            self.portal_repo, self.challenge_repo, self.sessions, self.audit, urls, self.clock
        )
        self.callers = CallerService(self.keys, INTERNAL_TOKEN)
        self.staff_links = StaffLinkService(
            self.staff_repo, self.portal_repo, self.audit, self.clock
        )

    def portal(
        self,
        bill_group_id: str = "bg_1",
        *,
        enabled: bool = True,
        contract_status: str = "active",
        tenant_id: str = "demo",
        account_id: str = "acc_1",
    ) -> Portal:
        return self.portal_repo.put(
            Portal(
                bill_group_id,
                tenant_id,
                portal_key=f"key-{bill_group_id}",
                enabled=enabled,
                contract_status=contract_status,
                account_id=account_id,
                account_name="Acme",
                name=f"Group {bill_group_id}",
                version=1,
            )
        )


@pytest.fixture
def world() -> World:
    return World()
