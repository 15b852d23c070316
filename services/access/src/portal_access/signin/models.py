"""A sign-in challenge (or decoy) or a preview grant, as stored in `challenges`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ChallengeKind = Literal["signin", "preview"]


@dataclass(frozen=True)
class Challenge:
    challenge_id: str
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
