"""Change ids the gateway mints, verifiable without asking anyone.

A change id is `chg_` + 16 hex of nonce + 16 hex of an HMAC over (tenant, bill group, nonce)
under a key every replica derives from the shared secret. Until billing-view has consumed a
just-published change, its page shows "waiting"; the MAC tells an id minted for this bill
group (it exists or is about to) from an invented one or one of another bill group or tenant
(404). Pure: the nonce is passed in.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

PREFIX = "chg_"
_SHAPE = re.compile(r"chg_([0-9a-f]{16})([0-9a-f]{16})")


def derive_key(gateway_secret: str) -> bytes:
    """A key of its own (never the CSRF key itself): HMAC of a fixed label."""
    return hmac.new(gateway_secret.encode(), b"portal-change-id-key/v1", "sha256").digest()


@dataclass(frozen=True)
class ChangeIds:
    key: bytes

    def _mac(self, tenant_id: str, bill_group_id: str, nonce: str) -> str:
        message = "\x1f".join((tenant_id, bill_group_id, nonce)).encode()
        return hmac.new(self.key, message, "sha256").hexdigest()[:16]

    def mint(self, tenant_id: str, bill_group_id: str, nonce: str) -> str:
        """`nonce`: 16 lower-case hex characters, random."""
        if not re.fullmatch(r"[0-9a-f]{16}", nonce):
            raise ValueError("nonce must be 16 lower-case hex characters")
        return f"{PREFIX}{nonce}{self._mac(tenant_id, bill_group_id, nonce)}"

    def minted_for(self, tenant_id: str, bill_group_id: str, change_id: str) -> bool:
        match = _SHAPE.fullmatch(change_id)
        if match is None:
            return False
        expected = self._mac(tenant_id, bill_group_id, match.group(1))
        return hmac.compare_digest(expected, match.group(2))
