"""Who may call: admin API keys (tenant-scoped, stored hashed) and the internal token."""

from __future__ import annotations

from typing import Any

from portal_access import domain
from portal_access.errors import ApiError
from portal_access.operations import Principal
from portal_access.storage import Storage
from portal_contracts.envelope import utc_now

API_KEY_PREFIX = "pak_"


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("send Authorization: Bearer <API key>")
    return token.strip()


def require_internal(authorization: str | None, internal_token: str) -> None:
    if not domain.same_secret(bearer(authorization), internal_token):
        raise _unauthorized("internal API: invalid token")


async def admin_principal(
    storage: Storage,
    internal_token: str,
    authorization: str | None,
    tenant_header: str | None,
    actor_header: str | None,
) -> Principal:
    token = bearer(authorization)
    if domain.same_secret(token, internal_token):
        # The gateway's staff console: it verified the staff session and names who acts.
        if not tenant_header or not actor_header:
            raise ApiError(
                400, "invalid_request", "X-Tenant-Id and X-Actor are required with this token"
            )
        return Principal(tenant_header, actor_header)
    key = await storage.api_key_by_hash(domain.hash_secret(token))
    if key is None:
        raise _unauthorized("unknown or revoked API key")
    return Principal(key["tenant_id"], f"api-key:{key['name']}")


async def create_api_key(storage: Storage, tenant_id: str, name: str) -> tuple[str, str]:
    """A new key for one tenant; returns (key id, key). Only the key's hash is stored."""
    key = API_KEY_PREFIX + domain.new_secret()
    key_id = domain.new_id("key")
    await storage.insert_api_key(
        {
            "_id": key_id,
            "tenant_id": tenant_id,
            "name": name,
            "key_hash": domain.hash_secret(key),
            "created_at": utc_now(),
            "revoked_at": None,
        }
    )
    return key_id, key


async def revoke_api_key(storage: Storage, tenant_id: str, key_id: str) -> bool:
    return await storage.revoke_api_key(tenant_id, key_id, utc_now())


async def list_api_keys(storage: Storage, tenant_id: str) -> list[dict[str, Any]]:
    return await storage.list_api_keys(tenant_id)
