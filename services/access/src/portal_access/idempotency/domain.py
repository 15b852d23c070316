"""Pure rules of admin idempotency keys: the accepted keys, a request's fingerprint, how long
a key holds a running call and its answer."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

HEADER = "idempotency-key"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Printable ASCII without spaces, bounded (it is stored): UUIDs, ULIDs and the like.
_KEY = re.compile(r"[\x21-\x7e]{1,128}")
KEY_RULE = "Idempotency-Key must be 1 to 128 printable characters without spaces."
# A call that has not answered within this is taken to have died: a repeat runs it again.
LEASE = timedelta(seconds=60)
# How long a repeat that finds the first call running waits for its answer before a 409.
WAIT_FOR_FIRST = timedelta(seconds=5)
# How long a repeat is answered from the first call (a client's retries of one operation).
KEEP = timedelta(hours=24)


def valid_key(key: str) -> bool:
    return _KEY.fullmatch(key) is not None


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """The request a key was first used for; the same key with another one is refused."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()
