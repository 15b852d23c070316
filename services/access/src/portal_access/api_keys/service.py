"""Use cases of callers: create, list and revoke admin API keys; authenticate a request."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from portal_access import tokens
from portal_access.api_keys.models import ApiKey, Principal
from portal_access.errors import MissingHeadersError
from portal_contracts.envelope import utc_now
from portal_kit.errors import UnauthorizedError

API_KEY_PREFIX = "pak_"


class ApiKeys(Protocol):
    async def add(self, key: ApiKey) -> None: ...
    async def active_by_hash(self, key_hash: str) -> ApiKey | None: ...
    async def revoke(self, tenant_id: str, key_id: str, now: datetime) -> bool: ...
    async def of_tenant(self, tenant_id: str) -> list[ApiKey]: ...


def bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("send Authorization: Bearer <API key>")
    return token.strip()


class CallerService:
    def __init__(self, keys: ApiKeys, internal_token: str) -> None:
        self._keys = keys
        self._internal_token = internal_token

    def require_internal(self, authorization: str | None) -> None:
        if not tokens.same_secret(bearer(authorization), self._internal_token):
            raise UnauthorizedError("internal API: invalid token")

    async def admin_principal(
        self, authorization: str | None, tenant_header: str | None, actor_header: str | None
    ) -> Principal:
        token = bearer(authorization)
        if tokens.same_secret(token, self._internal_token):
            # The gateway's staff console: it verified the staff session and names who acts.
            if not tenant_header or not actor_header:
                raise MissingHeadersError("X-Tenant-Id and X-Actor are required with this token")
            return Principal(tenant_header, actor_header)
        key = await self._keys.active_by_hash(tokens.hash_secret(token))
        if key is None:
            raise UnauthorizedError("unknown or revoked API key")
        return Principal(key.tenant_id, f"api-key:{key.name}")

    async def create_key(self, tenant_id: str, name: str) -> tuple[str, str]:
        """A new key for one tenant; returns (key id, key). Only the key's hash is stored."""
        key = API_KEY_PREFIX + tokens.new_secret()
        key_id = tokens.new_id("key")
        await self._keys.add(
            ApiKey(key_id, tenant_id, name, utc_now(), key_hash=tokens.hash_secret(key))
        )
        return key_id, key

    async def revoke_key(self, tenant_id: str, key_id: str) -> bool:
        return await self._keys.revoke(tenant_id, key_id, utc_now())

    async def keys_of(self, tenant_id: str) -> list[ApiKey]:
        return await self._keys.of_tenant(tenant_id)
