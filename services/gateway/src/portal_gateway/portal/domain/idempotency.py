"""Idempotency keys of customer changes: which keys are accepted, and the fingerprint of a
submit's body that tells a repeat from a different change sent with a reused key. Pure."""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping

# The form's hidden field, and the JSON API's `Idempotency-Key` header.
FORM_FIELD = "idempotency_key"
HEADER = "idempotency-key"
# Printable ASCII without spaces: UUIDs, ULIDs and the like. Bounded: it is stored.
_KEY = re.compile(r"[\x21-\x7e]{1,128}")
KEY_RULE = "An idempotency key is 1 to 128 printable characters without spaces."
# Fields that travel with a form but are not part of the change.
_NOT_THE_CHANGE = frozenset({FORM_FIELD, "_csrf_token"})


def parse_key(raw: str | None) -> str | None:
    """The key, None when none was sent (then every submit is a change of its own);
    ValueError for one that is not a key."""
    if raw is None or raw == "":
        return None
    if _KEY.fullmatch(raw) is None:
        raise ValueError(KEY_RULE)
    return raw


def fingerprint(key: bytes, operation: str, fields: Mapping[str, str]) -> str:
    """An HMAC of the operation and its fields (card numbers among them: a plain hash of a
    card number can be reversed by trying every number)."""
    body = {k: str(v) for k, v in fields.items() if k not in _NOT_THE_CHANGE}
    message = json.dumps([operation, body], sort_keys=True, separators=(",", ":"))
    return hmac.new(key, message.encode(), "sha256").hexdigest()
