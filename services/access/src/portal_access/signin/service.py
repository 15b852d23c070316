"""Sign-in use cases: request a link and code (or a decoy), verify one of them once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from portal_access import tokens
from portal_access.errors import (
    AccessEndedError,
    ExpiredOrUsedError,
    InvalidCodeError,
    InvalidEmailError,
    InvalidRequestError,
    SigninRateLimitedError,
    TooManyAttemptsError,
    not_found,
)
from portal_access.outbox.models import CHALLENGES, OutboxEntry, outbox_entry
from portal_access.outbox.relay import Wake
from portal_access.portals.domain import PortalUrls, RuleValueError, normalise_email
from portal_access.portals.models import Portal
from portal_access.sessions.models import Session, StartedSession
from portal_access.signin import domain
from portal_access.signin.models import Challenge, ChallengeKind
from portal_access.signin.schemas import SigninAccepted
from portal_access.wire import iso
from portal_contracts.portal import SigninCompleted, SigninMethod, SigninRequested
from portal_contracts.sealing import SignInSecret
from portal_kit.observability import mask_email
from portal_kit.sealing import seal

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class PortalReader(Protocol):
    async def get(self, tenant_id: str, bill_group_id: str) -> Portal | None: ...
    async def by_key(self, portal_key: str) -> Portal | None: ...


class Challenges(Protocol):
    async def add(self, challenge: Challenge, events: Sequence[OutboxEntry] = ()) -> None: ...
    async def by_token(self, token_hash: str, kind: ChallengeKind) -> Challenge | None: ...
    async def get(self, challenge_id: str, kind: ChallengeKind) -> Challenge | None: ...
    async def consume(self, challenge: Challenge, now: datetime, method: str) -> bool: ...
    async def take_attempt(self, challenge: Challenge, max_attempts: int) -> int | None: ...


class RateCounters(Protocol):
    async def hit(self, bucket: domain.Bucket) -> bool: ...


class SessionOpener(Protocol):
    async def open(
        self,
        *,
        tenant_id: str,
        bill_group_id: str,
        email: str,
        rule_id: str | None,
        read_only: bool,
        events: Sequence[OutboxEntry] = (),
    ) -> StartedSession: ...
    async def end(self, session: Session, reason: str) -> None: ...


@dataclass(frozen=True)
class SigninPolicy:
    per_email: domain.RateLimit
    per_ip: domain.RateLimit
    per_portal: domain.RateLimit
    seal_keys: str
    urls: PortalUrls


class SigninService:
    def __init__(
        self,
        portals: PortalReader,
        challenges: Challenges,
        counters: RateCounters,
        sessions: SessionOpener,
        policy: SigninPolicy,
        wake: Wake,
        clock: Clock,
    ) -> None:
        self._portals = portals
        self._challenges = challenges
        self._counters = counters
        self._sessions = sessions
        self._policy = policy
        self._wake = wake
        self._now = clock

    async def request(self, portal_key: str, raw_email: str, client_ip: str) -> SigninAccepted:
        portal = await self._portals.by_key(portal_key)
        if portal is None:
            raise not_found("portal")
        try:
            email = normalise_email(raw_email)
        except RuleValueError as exc:
            raise InvalidEmailError(str(exc)) from exc
        await self._rate_limit(portal, email, client_ip)
        now = self._now()
        expires_at = now + domain.SIGNIN_LIFETIME
        challenge_id = tokens.new_id("sgn")
        rule = domain.granting_rule(portal.usability.usable, portal.access_rules(), email)
        # A decoy does the same work as a real challenge (see `domain.granting_rule`).
        token, code = tokens.new_secret(), domain.new_code()
        link = self._policy.urls.verify(portal_key, token)
        sealed = seal(SignInSecret(link=link, code=code), self._policy.seal_keys)
        token_hash = tokens.hash_secret(token)
        challenge = Challenge(
            challenge_id=challenge_id,
            token_hash=token_hash,
            kind="signin",
            tenant_id=portal.tenant_id,
            bill_group_id=portal.bill_group_id,
            email=email,
            created_at=now,
            expires_at=expires_at,
            decoy=rule is None,
            code_hash=None if rule is None else domain.hash_code(challenge_id, code),
            rule_id=None if rule is None else rule.rule_id,
            portal_key_hash=tokens.hash_secret(portal_key),
        )
        events: list[OutboxEntry] = []
        if rule is not None:
            requested = SigninRequested(
                challenge_id=challenge_id,
                bill_group_id=portal.bill_group_id,
                entity_id=portal.entity_id,
                email=email,
                expires_at=expires_at,
                sealed=sealed,
            )
            events.append(
                outbox_entry(
                    requested, tenant_id=portal.tenant_id, bill_group_id=portal.bill_group_id
                )
            )
        await self._challenges.add(challenge, events)
        if events:
            self._wake(CHALLENGES, token_hash)
        log.info(
            "sign-in requested",
            extra={
                "bill_group_id": portal.bill_group_id,
                "email": mask_email(email),
                "granted": rule is not None,
            },
        )
        return SigninAccepted(pending_id=challenge_id, expires_at=iso(expires_at))

    async def verify(
        self, token: str | None, pending_id: str | None, code: str | None
    ) -> StartedSession:
        now = self._now()
        if token is not None:
            challenge = await self._challenges.by_token(tokens.hash_secret(token), "signin")
            if (
                challenge is None
                or not domain.is_live(challenge.expires_at, now)
                or challenge.consumed_at is not None
            ):
                raise ExpiredOrUsedError()
            await self._check_still_allowed(challenge)
            if not await self._challenges.consume(challenge, now, "link"):
                raise ExpiredOrUsedError()
            return await self._start_session(challenge, SigninMethod.LINK)
        if pending_id is None or code is None:
            raise InvalidRequestError("send either token, or pending_id and code")
        challenge = await self._challenges.get(pending_id, "signin")
        if (
            challenge is None
            or not domain.is_live(challenge.expires_at, now)
            or challenge.consumed_at is not None
        ):
            raise ExpiredOrUsedError()
        # Every try takes one of the limited slots first, so parallel guessing gains nothing.
        slot = await self._challenges.take_attempt(challenge, domain.MAX_CODE_ATTEMPTS)
        if slot is None:
            raise TooManyAttemptsError()
        entered = domain.hash_code(pending_id, domain.normalise_code(code))
        if challenge.code_hash is not None and tokens.same_secret(entered, challenge.code_hash):
            await self._check_still_allowed(challenge)
            if not await self._challenges.consume(challenge, now, "code"):
                raise ExpiredOrUsedError()
            return await self._start_session(challenge, SigninMethod.CODE)
        raise InvalidCodeError(attempts_left=domain.MAX_CODE_ATTEMPTS - slot)

    async def _start_session(self, challenge: Challenge, method: SigninMethod) -> StartedSession:
        completed = SigninCompleted(
            challenge_id=challenge.challenge_id,
            bill_group_id=challenge.bill_group_id,
            email=challenge.email,
            method=method,
        )
        started = await self._sessions.open(
            tenant_id=challenge.tenant_id,
            bill_group_id=challenge.bill_group_id,
            email=challenge.email,
            rule_id=challenge.rule_id,
            read_only=False,
            events=[
                outbox_entry(
                    completed, tenant_id=challenge.tenant_id, bill_group_id=challenge.bill_group_id
                )
            ],
        )
        # A rule removal or contract end that raced this sign-in revokes after its state
        # change; checking again after the insert closes the gap from this side.
        try:
            await self._check_still_allowed(challenge)
        except (AccessEndedError, ExpiredOrUsedError):
            await self._sessions.end(started.session, "access_ended")
            raise
        log.info(
            "signed in",
            extra={
                "bill_group_id": challenge.bill_group_id,
                "method": method.value,
                "session_id": started.session.session_id,
            },
        )
        return started

    async def _check_still_allowed(self, challenge: Challenge) -> None:
        """Checked before the challenge is used (a refused one stays unused) and again once
        the session exists (a removal that raced the sign-in)."""
        portal = await self._portals.get(challenge.tenant_id, challenge.bill_group_id)
        if portal is None:
            raise AccessEndedError()
        # A rotation cancels what was mailed for the old link, whichever way it is used.
        if challenge.portal_key_hash is not None and not tokens.same_secret(
            challenge.portal_key_hash, tokens.hash_secret(portal.portal_key)
        ):
            raise ExpiredOrUsedError()
        if not portal.usability.usable or not any(
            r.rule_id == challenge.rule_id for r in portal.access_rules()
        ):
            raise AccessEndedError()

    async def _rate_limit(self, portal: Portal, email: str, client_ip: str) -> None:
        now = self._now()
        policy = self._policy
        buckets = domain.buckets(
            now,
            [
                (policy.per_email, "", tokens.hash_secret(email)[:32]),
                (policy.per_ip, "", client_ip),
                (policy.per_portal, portal.tenant_id, portal.bill_group_id),
            ],
        )
        # Three independent counters: one round trip's latency instead of three.
        allowed = await asyncio.gather(*(self._counters.hit(b) for b in buckets))
        retry_after = domain.retry_after(now, list(zip(buckets, allowed, strict=True)))
        if retry_after:
            log.info("sign-in rate limited", extra={"bill_group_id": portal.bill_group_id})
            raise SigninRateLimitedError(retry_after)
