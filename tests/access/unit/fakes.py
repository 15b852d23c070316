"""In-memory fakes of the access repositories, for the use-case unit tests only.

Each one keeps the same promises as its MongoDB repository (optimistic revision check,
single-use inserts, "revoke only what is live"), so the use cases can be tested without
servers, cosmicpython style.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from portal_access.api_keys.models import ApiKey
from portal_access.audit.models import AuditEntry
from portal_access.outbox.models import DocId, Hint, OutboxEntry, Owed
from portal_access.portals.models import BillGroupFields, Portal, PortalChange, Projected
from portal_access.sessions.models import Session, SessionScope
from portal_access.signin.domain import Bucket
from portal_access.signin.models import Challenge, ChallengeKind

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Woken:
    hints: list[Hint] = field(default_factory=list)

    def __call__(self, collection: str, doc_id: DocId) -> None:
        self.hints.append(Hint(collection, doc_id))


@dataclass
class FakePortals:
    portals: dict[tuple[str, str], Portal] = field(default_factory=dict)
    outbox: list[OutboxEntry] = field(default_factory=list)
    # Commits that lose against "another writer" before succeeding (optimistic concurrency).
    lose_next_commits: int = 0

    def put(self, portal: Portal) -> Portal:
        self.portals[(portal.tenant_id, portal.bill_group_id)] = portal
        return portal

    async def project(
        self, tenant_id: str, version: int, fields: BillGroupFields, new_portal_key: str
    ) -> Projected:
        active = fields.contract_status == "active"
        held = self.portals.get((tenant_id, fields.bill_group_id))
        if held is None:
            held = Portal(fields.bill_group_id, tenant_id, new_portal_key)
        elif held.version >= version:
            return Projected(False, redelivered=held.version == version, contract_active=active)
        self.put(
            replace(
                held,
                account_id=fields.account_id,
                account_name=fields.account_name,
                entity_id=fields.entity_id,
                name=fields.name,
                contract_status=fields.contract_status,
                version=version,
            )
        )
        return Projected(applied=True, redelivered=False, contract_active=active)

    async def get(self, tenant_id: str, bill_group_id: str) -> Portal | None:
        return self.portals.get((tenant_id, bill_group_id))

    async def by_key(self, portal_key: str) -> Portal | None:
        return next((p for p in self.portals.values() if p.portal_key == portal_key), None)

    async def of_account(self, tenant_id: str, account_id: str) -> list[Portal]:
        found = [
            p
            for p in self.portals.values()
            if p.tenant_id == tenant_id and p.account_id == account_id
        ]
        return sorted(found, key=lambda p: p.bill_group_id)

    async def commit(
        self, portal: Portal, change: PortalChange, events: Sequence[OutboxEntry]
    ) -> bool:
        held = self.portals.get((portal.tenant_id, portal.bill_group_id))
        if self.lose_next_commits:
            self.lose_next_commits -= 1
            return False
        if held is None or held.rev != portal.rev:
            return False
        self.put(
            replace(
                held,
                enabled=held.enabled if change.enabled is None else change.enabled,
                rules=held.rules if change.rules is None else change.rules,
                portal_key=held.portal_key if change.portal_key is None else change.portal_key,
                rev=held.rev + 1,
            )
        )
        self.outbox.extend(events)
        return True


@dataclass
class FakeSessions:
    sessions: dict[str, Session] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    outbox: list[OutboxEntry] = field(default_factory=list)

    async def add(self, session: Session, events: Sequence[OutboxEntry] = ()) -> None:
        assert session.token_hash not in self.sessions
        self.sessions[session.token_hash] = session
        self.outbox.extend(events)

    async def get(self, token_hash: str) -> Session | None:
        return self.sessions.get(token_hash)

    async def touch(self, token_hash: str, now: datetime, idle_expires_at: datetime) -> None:
        session = self.sessions[token_hash]
        if session.revoked_at is None:
            self.sessions[token_hash] = replace(
                session, last_seen_at=now, idle_expires_at=idle_expires_at
            )

    async def revoke_one(self, token_hash: str, now: datetime, reason: str) -> None:
        session = self.sessions.get(token_hash)
        if session is not None and session.revoked_at is None:
            self.sessions[token_hash] = replace(session, revoked_at=now)
            self.reasons[session.session_id] = reason

    async def revoke(self, scope: SessionScope, now: datetime, reason: str) -> int:
        revoked = 0
        for token_hash, s in list(self.sessions.items()):
            if (
                (s.tenant_id, s.bill_group_id) == (scope.tenant_id, scope.bill_group_id)
                and scope.rule_id in (None, s.rule_id)
                and scope.session_id in (None, s.session_id)
                and s.revoked_at is None
                and s.expires_at > now
            ):
                await self.revoke_one(token_hash, now, reason)
                revoked += 1
        return revoked

    async def active(self, tenant_id: str, bill_group_id: str, now: datetime) -> list[Session]:
        live = [
            s
            for s in self.sessions.values()
            if (s.tenant_id, s.bill_group_id) == (tenant_id, bill_group_id)
            and s.revoked_at is None
            and s.idle_expires_at > now
            and s.expires_at > now
        ]
        return sorted(live, key=lambda s: s.created_at, reverse=True)


@dataclass
class FakeAudit:
    entries: list[AuditEntry] = field(default_factory=list)

    async def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    async def latest(self, tenant_id: str, bill_group_id: str, limit: int) -> list[AuditEntry]:
        mine = [
            e for e in self.entries if (e.tenant_id, e.bill_group_id) == (tenant_id, bill_group_id)
        ]
        return sorted(mine, key=lambda e: e.at, reverse=True)[:limit]

    def actions(self) -> list[str]:
        return [e.action for e in self.entries]


@dataclass
class FakeChallenges:
    challenges: dict[str, Challenge] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    outbox: list[OutboxEntry] = field(default_factory=list)

    async def add(self, challenge: Challenge, events: Sequence[OutboxEntry] = ()) -> None:
        assert challenge.token_hash not in self.challenges
        self.ids[challenge.challenge_id] = challenge.token_hash
        self.challenges[challenge.token_hash] = challenge
        self.outbox.extend(events)

    async def by_token(self, token_hash: str, kind: ChallengeKind) -> Challenge | None:
        challenge = self.challenges.get(token_hash)
        if challenge is None or challenge.kind != kind or challenge.decoy:
            return None
        return challenge

    async def get(self, challenge_id: str, kind: ChallengeKind) -> Challenge | None:
        challenge = self.challenges.get(self.ids.get(challenge_id, ""))
        return challenge if challenge is not None and challenge.kind == kind else None

    async def consume(self, challenge: Challenge, now: datetime, method: str) -> bool:
        held = self.challenges[challenge.token_hash]
        if held.consumed_at is not None:
            return False
        self.challenges[challenge.token_hash] = replace(held, consumed_at=now)
        return True

    async def take_attempt(self, challenge: Challenge, max_attempts: int) -> int | None:
        held = self.challenges[challenge.token_hash]
        if held.attempts >= max_attempts:
            return None
        self.challenges[challenge.token_hash] = replace(held, attempts=held.attempts + 1)
        return held.attempts + 1


@dataclass
class FakeCounters:
    counts: dict[Bucket, int] = field(default_factory=dict)

    async def hit(self, bucket: Bucket) -> bool:
        key = replace(bucket, resets_at=T0, limit=0)
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key] <= bucket.limit


@dataclass
class FakeApiKeys:
    keys: dict[str, ApiKey] = field(default_factory=dict)

    async def add(self, key: ApiKey) -> None:
        self.keys[key.key_id] = key

    async def active_by_hash(self, key_hash: str) -> ApiKey | None:
        return next(
            (k for k in self.keys.values() if k.key_hash == key_hash and k.revoked_at is None),
            None,
        )

    async def revoke(self, tenant_id: str, key_id: str, now: datetime) -> bool:
        key = self.keys.get(key_id)
        if key is None or key.tenant_id != tenant_id or key.revoked_at is not None:
            return False
        self.keys[key_id] = replace(key, revoked_at=now)
        return True

    async def of_tenant(self, tenant_id: str) -> list[ApiKey]:
        return [k for k in self.keys.values() if k.tenant_id == tenant_id]


@dataclass
class FakeStaffLinks:
    secrets: dict[str, list[str]] = field(default_factory=dict)
    nonces: set[tuple[str, str]] = field(default_factory=set)

    async def secrets_of(self, tenant_id: str) -> list[str]:
        return list(self.secrets.get(tenant_id, []))

    async def used(self, tenant_id: str, nonce: str) -> bool:
        return (tenant_id, nonce) in self.nonces

    async def consume(
        self, tenant_id: str, nonce: str, staff_email: str, now: datetime, expires_at: datetime
    ) -> bool:
        if (tenant_id, nonce) in self.nonces:
            return False
        self.nonces.add((tenant_id, nonce))
        return True


@dataclass
class FakeOutbox:
    owed_entries: dict[Hint, list[OutboxEntry]] = field(default_factory=dict)

    async def owed(self, only: Sequence[Hint] | None = None) -> list[Owed]:
        hints = list(self.owed_entries) if only is None else list(dict.fromkeys(only))
        return [
            Owed(h.collection, h.doc_id, tuple(self.owed_entries[h]))
            for h in hints
            if self.owed_entries.get(h)
        ]

    async def mark_sent(self, owed: Owed) -> None:
        hint = Hint(owed.collection, owed.doc_id)
        self.owed_entries[hint] = [
            e for e in self.owed_entries.get(hint, []) if e not in owed.entries
        ]
