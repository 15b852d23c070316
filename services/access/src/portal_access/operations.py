"""What the access service does, composed from the pure rules and the storage.

Routes and handlers call these methods; every state change writes the events it owes in the
same single-document write (see `outbox.py`) and then wakes the relay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from portal_access import domain
from portal_access.errors import ApiError, RuleConflictError, not_found
from portal_access.outbox import Wake, outbox_entry
from portal_access.settings import Settings
from portal_access.storage import Doc, Storage, rules_of
from portal_contracts.billing import BillGroupState
from portal_contracts.envelope import Envelope, utc_now
from portal_contracts.portal import (
    AccessGranted,
    AccessRevoked,
    PortalDisabled,
    PortalEnabled,
    PortalLinkRotated,
    RuleKind,
    SigninCompleted,
    SigninMethod,
    SigninRequested,
)
from portal_contracts.sealing import SignInSecret
from portal_kit.observability import mask_email
from portal_kit.sealing import seal

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
_COMMIT_TRIES = 5


@dataclass(frozen=True)
class Principal:
    """Who calls the admin API: always exactly one tenant."""

    tenant_id: str
    actor: str


def usable(portal: Doc) -> tuple[bool, str | None]:
    if not portal.get("enabled"):
        return False, "portal_disabled"
    if portal.get("contract_status") != "active":
        return False, "contract_inactive"
    return True, None


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _rule_view(rule: Doc) -> Doc:
    return {
        "id": rule["id"],
        "kind": rule["kind"],
        "value": rule["value"],
        "created_at": _iso(rule["created_at"]),
        "created_by": rule["created_by"],
    }


class AccessService:
    def __init__(
        self, storage: Storage, settings: Settings, wake: Wake, clock: Clock = utc_now
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.wake = wake
        self.now = clock

    # --- contract projection -----------------------------------------------------------

    async def apply_bill_group(self, event: Envelope[Any]) -> bool:
        state: BillGroupState = event.payload
        if event.aggregate_version is None:
            raise ValueError("bill_group.state without aggregate_version")
        projected = await self.storage.project_bill_group(
            tenant_id=event.tenant_id,
            version=event.aggregate_version,
            fields={
                "bill_group_id": state.bill_group_id,
                "account_id": state.account_id,
                "account_name": state.account_name,
                "entity_id": state.entity_id,
                "name": state.name,
                "contract_status": state.contract_status.value,
            },
            new_portal_key=domain.new_secret(),
        )
        if projected.applied and not projected.contract_active:
            ended = await self.storage.revoke_sessions(
                {"tenant_id": event.tenant_id, "bill_group_id": state.bill_group_id},
                self.now(),
                "contract_inactive",
            )
            if ended:
                log.info(
                    "contract ended: sessions revoked",
                    extra={"bill_group_id": state.bill_group_id, "sessions_ended": ended},
                )
        return projected.applied

    # --- admin: portal and rules -------------------------------------------------------

    async def _portal(self, who: Principal, bill_group_id: str) -> Doc:
        portal = await self.storage.portal(who.tenant_id, bill_group_id)
        if portal is None:
            raise not_found()
        return portal

    def portal_view(self, portal: Doc) -> Doc:
        ok, reason = usable(portal)
        return {
            "bill_group_id": portal["_id"],
            "tenant_id": portal["tenant_id"],
            "account_id": portal.get("account_id"),
            "name": portal.get("name"),
            "enabled": bool(portal.get("enabled")),
            "contract_status": portal.get("contract_status"),
            "usable": ok,
            "reason": reason,
            "portal_url": self.settings.portal_url(portal["portal_key"]),
            "rules": [_rule_view(r) for r in portal.get("rules", [])],
        }

    async def get_portal(self, who: Principal, bill_group_id: str) -> Doc:
        return self.portal_view(await self._portal(who, bill_group_id))

    async def _commit(
        self,
        who: Principal,
        bill_group_id: str,
        change: Callable[[Doc], tuple[Doc, list[Doc], Any] | None],
    ) -> tuple[Doc, Any]:
        """Optimistic read-decide-write: retried when another writer got in between."""
        for _ in range(_COMMIT_TRIES):
            portal = await self._portal(who, bill_group_id)
            decided = change(portal)
            if decided is None:
                return portal, None
            changes, events, result = decided
            if await self.storage.commit_portal(portal, changes, events):
                if events:
                    self.wake("portals", portal["_id"])
                return {**portal, **changes}, result
        raise ApiError(409, "concurrent_update", "the portal changed meanwhile; try again")

    def _event(self, portal: Doc, payload: Any) -> Doc:
        return outbox_entry(payload, tenant_id=portal["tenant_id"], bill_group_id=portal["_id"])

    async def set_enabled(self, who: Principal, bill_group_id: str, enabled: bool) -> Doc:
        def change(portal: Doc) -> tuple[Doc, list[Doc], Any] | None:
            if bool(portal.get("enabled")) == enabled:
                return None
            model = PortalEnabled if enabled else PortalDisabled
            event = self._event(portal, model(bill_group_id=bill_group_id, actor=who.actor))
            return ({"enabled": enabled}, [event], None)

        portal, _ = await self._commit(who, bill_group_id, change)
        now = self.now()
        if not enabled:
            await self.storage.revoke_sessions(
                {"tenant_id": who.tenant_id, "bill_group_id": bill_group_id}, now, "portal_disabled"
            )
        await self._audit(who, bill_group_id, "portal.enabled" if enabled else "portal.disabled")
        return self.portal_view(portal)

    async def add_rule(self, who: Principal, bill_group_id: str, kind: RuleKind, raw: str) -> Doc:
        try:
            value = domain.normalise(kind, raw)
        except domain.RuleValueError as exc:
            raise ApiError(422, "invalid_value", str(exc)) from exc
        now = self.now()

        def change(portal: Doc) -> tuple[Doc, list[Doc], Any]:
            conflict = domain.find_conflict(rules_of(portal), kind, value)
            if conflict is not None:
                existing = next(r for r in portal["rules"] if r["id"] == conflict.rule.rule_id)
                raise RuleConflictError(conflict.message, _rule_view(existing))
            rule = {
                "id": domain.new_id("rul"),
                "kind": kind.value,
                "value": value,
                "created_at": now,
                "created_by": who.actor,
            }
            event = self._event(
                portal,
                AccessGranted(
                    bill_group_id=bill_group_id,
                    rule_id=rule["id"],
                    kind=kind,
                    value=value,
                    actor=who.actor,
                ),
            )
            return ({"rules": [*portal.get("rules", []), rule]}, [event], rule)

        _, rule = await self._commit(who, bill_group_id, change)
        await self._audit(
            who,
            bill_group_id,
            "rule.added",
            {"rule_id": rule["id"], "kind": kind.value, "value": value},
        )
        return _rule_view(rule)

    async def remove_rule(self, who: Principal, bill_group_id: str, rule_id: str) -> None:
        scope = {"tenant_id": who.tenant_id, "bill_group_id": bill_group_id, "rule_id": rule_id}
        portal = await self._portal(who, bill_group_id)
        if not any(r["id"] == rule_id for r in portal.get("rules", [])):
            raise not_found("rule")
        # Sessions end before the rule goes (a crash in between leaves the rule, which a retry
        # removes), and once more after it, for a sign-in that raced the removal.
        ended = await self.storage.revoke_sessions(scope, self.now(), "rule_removed")

        def change(portal: Doc) -> tuple[Doc, list[Doc], Any]:
            rules = portal.get("rules", [])
            removed = next((r for r in rules if r["id"] == rule_id), None)
            if removed is None:
                raise not_found("rule")
            event = self._event(
                portal,
                AccessRevoked(
                    bill_group_id=bill_group_id,
                    rule_id=rule_id,
                    kind=RuleKind(removed["kind"]),
                    value=removed["value"],
                    actor=who.actor,
                    sessions_ended=ended,
                ),
            )
            return ({"rules": [r for r in rules if r["id"] != rule_id]}, [event], removed)

        _, removed = await self._commit(who, bill_group_id, change)
        ended += await self.storage.revoke_sessions(scope, self.now(), "rule_removed")
        await self._audit(
            who,
            bill_group_id,
            "rule.removed",
            {
                "rule_id": rule_id,
                "kind": removed["kind"],
                "value": removed["value"],
                "sessions_ended": ended,
            },
        )

    async def rotate_link(self, who: Principal, bill_group_id: str) -> Doc:
        def change(portal: Doc) -> tuple[Doc, list[Doc], Any]:
            event = self._event(
                portal, PortalLinkRotated(bill_group_id=bill_group_id, actor=who.actor)
            )
            return ({"portal_key": domain.new_secret()}, [event], None)

        portal, _ = await self._commit(who, bill_group_id, change)
        await self._audit(who, bill_group_id, "link.rotated")
        return {"portal_url": self.settings.portal_url(portal["portal_key"])}

    async def create_preview(self, who: Principal, bill_group_id: str) -> Doc:
        portal = await self._portal(who, bill_group_id)
        now = self.now()
        token = domain.new_secret()
        expires_at = now + domain.PREVIEW_LIFETIME
        await self.storage.insert_challenge(
            {
                "_id": domain.new_id("prv"),
                "kind": "preview",
                "decoy": False,
                "code_hash": None,
                "tenant_id": who.tenant_id,
                "bill_group_id": bill_group_id,
                "email": f"preview:{who.actor}",
                "rule_id": None,
                "created_at": now,
                "expires_at": expires_at,
            },
            domain.hash_secret(token),
        )
        await self._audit(who, bill_group_id, "preview.created")
        url = f"{self.settings.portal_url(portal['portal_key'])}/preview/{token}"
        return {"preview_url": url, "expires_at": _iso(expires_at)}

    async def list_sessions(self, who: Principal, bill_group_id: str) -> Doc:
        await self._portal(who, bill_group_id)
        sessions = await self.storage.active_sessions(who.tenant_id, bill_group_id, self.now())
        return {
            "items": [
                {
                    "session_id": s["session_id"],
                    "email": s["email"],
                    "read_only": s["read_only"],
                    "rule_id": s.get("rule_id"),
                    "started_at": _iso(s["created_at"]),
                    "last_seen_at": _iso(s["last_seen_at"]),
                    "idle_expires_at": _iso(min(s["idle_expires_at"], s["expires_at"])),
                    "expires_at": _iso(s["expires_at"]),
                }
                for s in sessions
            ]
        }

    async def revoke_sessions(
        self, who: Principal, bill_group_id: str, session_id: str | None
    ) -> Doc:
        await self._portal(who, bill_group_id)
        query: Doc = {"tenant_id": who.tenant_id, "bill_group_id": bill_group_id}
        if session_id is not None:
            query["session_id"] = session_id
        revoked = await self.storage.revoke_sessions(query, self.now(), "revoked_by_staff")
        if session_id is not None and revoked == 0:
            raise not_found("active session")
        await self._audit(
            who, bill_group_id, "sessions.revoked", {"session_id": session_id, "revoked": revoked}
        )
        return {"revoked": revoked}

    async def audit(self, who: Principal, bill_group_id: str, limit: int) -> Doc:
        await self._portal(who, bill_group_id)
        entries = await self.storage.audit_entries(who.tenant_id, bill_group_id, limit)
        return {
            "items": [
                {
                    "at": _iso(e["at"]),
                    "actor": e["actor"],
                    "action": e["action"],
                    "detail": e.get("detail", {}),
                }
                for e in entries
            ]
        }

    async def _audit(
        self, who: Principal, bill_group_id: str, action: str, detail: Doc | None = None
    ) -> None:
        await self.storage.audit(
            tenant_id=who.tenant_id,
            bill_group_id=bill_group_id,
            actor=who.actor,
            action=action,
            at=self.now(),
            detail=detail,
        )

    # --- internal: portal lookup and sign-in --------------------------------------------

    async def portal_status(self, portal_key: str) -> Doc:
        portal = await self.storage.portal_by_key(portal_key)
        if portal is None:
            raise not_found("portal")
        ok, reason = usable(portal)
        return {
            "tenant_id": portal["tenant_id"],
            "bill_group_id": portal["_id"],
            "usable": ok,
            "reason": reason,
        }

    async def account_portals(self, tenant_id: str, account_id: str) -> Doc:
        """Staff console account page: every bill group's portal at a glance."""
        portals = await self.storage.portals_of_account(tenant_id, account_id)
        items = []
        for portal in portals:
            ok, reason = usable(portal)
            items.append(
                {
                    "bill_group_id": portal["_id"],
                    "name": portal.get("name"),
                    "contract_status": portal.get("contract_status"),
                    "enabled": bool(portal.get("enabled")),
                    "usable": ok,
                    "reason": reason,
                    "rule_count": len(portal.get("rules", [])),
                }
            )
        account_name = next((p.get("account_name") for p in portals), None)
        return {"account_id": account_id, "account_name": account_name, "items": items}

    async def _rate_limit(self, portal: Doc, email: str, client_ip: str) -> None:
        s = self.settings
        now = self.now()
        limits = (
            (
                "email",
                domain.hash_secret(email)[:32],
                s.signin_limit_per_email,
                s.signin_window_email_seconds,
            ),
            ("ip", client_ip, s.signin_limit_per_ip, s.signin_window_ip_seconds),
            ("portal", portal["_id"], s.signin_limit_per_portal, s.signin_window_portal_seconds),
        )
        windows = [
            (domain.rate_window(now, seconds), scope, key, limit)
            for scope, key, limit, seconds in limits
        ]
        # Three independent counters: one round trip's latency instead of three.
        counts = await asyncio.gather(
            *(
                self.storage.hit(f"signin|{scope}|{key}|{window.key}", window.resets_at)
                for window, scope, key, _ in windows
            )
        )
        retry_after = max(
            (
                domain.retry_after_seconds(now, window.resets_at)
                for (window, _, _, limit), count in zip(windows, counts, strict=True)
                if count > limit
            ),
            default=0,
        )
        if retry_after:
            log.info("sign-in rate limited", extra={"bill_group_id": portal["_id"]})
            raise ApiError(
                429,
                "rate_limited",
                "too many sign-in requests; try again later",
                extra={"retry_after_seconds": retry_after},
                headers={"Retry-After": str(retry_after)},
            )

    async def request_signin(self, portal_key: str, raw_email: str, client_ip: str) -> Doc:
        portal = await self.storage.portal_by_key(portal_key)
        if portal is None:
            raise not_found("portal")
        try:
            email = domain.normalise_email(raw_email)
        except domain.RuleValueError as exc:
            raise ApiError(422, "invalid_email", str(exc)) from exc
        await self._rate_limit(portal, email, client_ip)
        now = self.now()
        expires_at = now + domain.SIGNIN_LIFETIME
        challenge_id = domain.new_id("sgn")
        ok, _ = usable(portal)
        rule = domain.covering_rule(rules_of(portal), email) if ok else None
        challenge: Doc = {
            "_id": challenge_id,
            "kind": "signin",
            "tenant_id": portal["tenant_id"],
            "bill_group_id": portal["_id"],
            "email": email,
            "created_at": now,
            "expires_at": expires_at,
        }
        # A decoy does the same work (secrets, sealing, both inserts) and answers code tries
        # like a real challenge, but never matches and owes no event: neither the answer nor
        # its timing tells whether the address has access.
        token, code = domain.new_secret(), domain.new_code()
        link = f"{self.settings.portal_url(portal_key)}/verify/{token}"
        sealed = seal(SignInSecret(link=link, code=code), self.settings.seal_keys)
        token_hash = domain.hash_secret(token)
        if rule is None:
            challenge.update(decoy=True, code_hash=None, rule_id=None, has_outbox=False, outbox=[])
        else:
            event = self._event(
                portal,
                SigninRequested(
                    challenge_id=challenge_id,
                    bill_group_id=portal["_id"],
                    entity_id=portal.get("entity_id"),
                    email=email,
                    expires_at=expires_at,
                    sealed=sealed,
                ),
            )
            challenge.update(
                decoy=False,
                code_hash=domain.hash_code(challenge_id, code),
                rule_id=rule.rule_id,
                has_outbox=True,
                outbox=[event],
            )
        await self.storage.insert_challenge(challenge, token_hash)
        if rule is not None:
            self.wake("challenges", challenge_id)
        log.info(
            "sign-in requested",
            extra={
                "bill_group_id": portal["_id"],
                "email": mask_email(email),
                "granted": rule is not None,
            },
        )
        return {"pending_id": challenge_id, "expires_at": _iso(expires_at)}

    async def verify(self, token: str | None, pending_id: str | None, code: str | None) -> Doc:
        now = self.now()
        if token is not None:
            challenge = await self.storage.challenge_by_token(
                domain.hash_secret(token), "signin", now
            )
            if challenge is None or not await self.storage.consume(challenge, now, "link"):
                raise _expired_or_used()
            return await self._start_session(challenge, SigninMethod.LINK)
        if pending_id is None or code is None:
            raise ApiError(422, "invalid_request", "send either token, or pending_id and code")
        challenge = await self.storage.live_challenge({"_id": pending_id, "kind": "signin"}, now)
        if challenge is None or await self.storage.is_consumed(pending_id):
            raise _expired_or_used()
        # Every try takes one of the limited slots first, so parallel guessing gains nothing.
        slot = await self.storage.take_attempt(challenge, domain.MAX_CODE_ATTEMPTS)
        if slot is None:
            raise ApiError(
                429, "too_many_attempts", "too many wrong codes; request a new sign-in email"
            )
        expected = challenge.get("code_hash")
        entered = domain.hash_code(pending_id, domain.normalise_code(code))
        if expected is not None and domain.same_secret(entered, expected):
            if not await self.storage.consume(challenge, now, "code"):
                raise _expired_or_used()
            return await self._start_session(challenge, SigninMethod.CODE)
        raise ApiError(
            400,
            "invalid_code",
            "that code is not right; check the email and try again",
            extra={"attempts_left": domain.MAX_CODE_ATTEMPTS - slot},
        )

    async def _start_session(self, challenge: Doc, method: SigninMethod) -> Doc:
        tenant_id, bill_group_id = challenge["tenant_id"], challenge["bill_group_id"]
        await self._check_still_allowed(challenge)
        now = self.now()
        token = domain.new_secret()
        session_id = domain.new_id("ses")
        times = domain.session_times(now)
        event = outbox_entry(
            SigninCompleted(
                challenge_id=challenge["_id"],
                bill_group_id=bill_group_id,
                email=challenge["email"],
                method=method,
            ),
            tenant_id=tenant_id,
            bill_group_id=bill_group_id,
        )
        await self.storage.insert_session(
            {
                "_id": domain.hash_secret(token),
                "session_id": session_id,
                "tenant_id": tenant_id,
                "bill_group_id": bill_group_id,
                "email": challenge["email"],
                "rule_id": challenge["rule_id"],
                "read_only": False,
                "created_at": now,
                "last_seen_at": now,
                "idle_expires_at": times.idle_expires_at,
                "expires_at": times.expires_at,
                "revoked_at": None,
                "outbox": [event],
                "has_outbox": True,
            }
        )
        self.wake("sessions", domain.hash_secret(token))
        # A rule removal or contract end that raced this sign-in revokes after its state
        # change; checking again after the insert closes the gap from this side.
        try:
            await self._check_still_allowed(challenge)
        except ApiError:
            await self.storage.revoke_session(domain.hash_secret(token), self.now(), "access_ended")
            raise
        log.info(
            "signed in",
            extra={
                "bill_group_id": bill_group_id,
                "method": method.value,
                "session_id": session_id,
            },
        )
        return {
            "session_token": token,
            "session_id": session_id,
            "tenant_id": tenant_id,
            "bill_group_id": bill_group_id,
            "email": challenge["email"],
            "read_only": False,
            "expires_at": _iso(times.expires_at),
        }

    async def _check_still_allowed(self, challenge: Doc) -> None:
        portal = await self.storage.portal(challenge["tenant_id"], challenge["bill_group_id"])
        ok = portal is not None and usable(portal)[0]
        if ok and portal is not None:
            ok = any(r.rule_id == challenge["rule_id"] for r in rules_of(portal))
        if not ok:
            # 410 like an expired link: the gateway shows "request a new one", which then
            # answers the same way as for any address without access.
            raise ApiError(410, "access_ended", "this portal is no longer open to this address")

    async def redeem_preview(self, preview_token: str) -> Doc:
        now = self.now()
        grant = await self.storage.challenge_by_token(
            domain.hash_secret(preview_token), "preview", now
        )
        if grant is None or not await self.storage.consume(grant, now, "preview"):
            raise _expired_or_used()
        token = domain.new_secret()
        session_id = domain.new_id("ses")
        times = domain.session_times(now)
        await self.storage.insert_session(
            {
                "_id": domain.hash_secret(token),
                "session_id": session_id,
                "tenant_id": grant["tenant_id"],
                "bill_group_id": grant["bill_group_id"],
                "email": grant["email"],
                "rule_id": None,
                "read_only": True,
                "created_at": now,
                "last_seen_at": now,
                "idle_expires_at": times.idle_expires_at,
                "expires_at": times.expires_at,
                "revoked_at": None,
                "outbox": [],
                "has_outbox": False,
            }
        )
        await self.storage.audit(
            tenant_id=grant["tenant_id"],
            bill_group_id=grant["bill_group_id"],
            actor=grant["email"].removeprefix("preview:"),
            action="preview.opened",
            at=now,
            detail={"session_id": session_id},
        )
        return {
            "session_token": token,
            "session_id": session_id,
            "tenant_id": grant["tenant_id"],
            "bill_group_id": grant["bill_group_id"],
            "email": grant["email"],
            "read_only": True,
            "expires_at": _iso(times.expires_at),
        }

    # --- sessions ------------------------------------------------------------------------

    async def validate(self, session_token: str) -> Doc:
        now = self.now()
        token_hash = domain.hash_secret(session_token)
        session = await self.storage.touch_session(token_hash, now, now + domain.SESSION_IDLE)
        if session is None:
            known = await self.storage.session_by_token(token_hash)
            reason = "unknown" if known is None else "revoked" if known["revoked_at"] else "expired"
            raise ApiError(401, reason, "the session is not valid; sign in again")
        return {
            "session_id": session["session_id"],
            "tenant_id": session["tenant_id"],
            "bill_group_id": session["bill_group_id"],
            "email": session["email"],
            "read_only": session["read_only"],
            "idle_expires_at": _iso(domain.refreshed_idle(now, session["expires_at"])),
            "expires_at": _iso(session["expires_at"]),
        }

    async def signout(self, session_token: str) -> None:
        await self.storage.revoke_session(
            domain.hash_secret(session_token), self.now(), "signed_out"
        )


def _expired_or_used() -> ApiError:
    return ApiError(
        410,
        "expired_or_used",
        "this link or code has expired or was already used; request a new one",
    )
