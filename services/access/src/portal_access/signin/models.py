"""A sign-in challenge (or decoy) or a preview grant, as stored in `challenges` (`_id` = the
SHA-256 of its token)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ChallengeKind = Literal["signin", "preview"]


@dataclass(frozen=True)
class Challenge:
    challenge_id: str
    token_hash: str
    kind: ChallengeKind
    tenant_id: str
    bill_group_id: str
    email: str
    created_at: datetime
    expires_at: datetime
    decoy: bool = False
    # HMAC of the code keyed by the challenge id; None for decoys and previews.
    code_hash: str | None = None
    rule_id: str | None = None
    # SHA-256 of the portal key the link was sent for: a rotation (a new key) cancels every
    # challenge issued before it. None on challenges stored before this field existed.
    portal_key_hash: str | None = None
    # Set once, by the one verify that wins (an atomic conditional update).
    consumed_at: datetime | None = None
    # Code tries taken so far (an atomic `$inc` below the limit).
    attempts: int = 0
