"""A stored first answer, and what a call with an idempotency key is told to do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class StoredAnswer:
    """The first call's answer, replayed as it was (status, the headers that matter, body)."""

    status: int
    content_type: str | None
    location: str | None
    body: bytes


@dataclass(frozen=True)
class Claim:
    """`run`: this call runs (the key is new, or its previous holder died). `replay`: the
    first call's answer is `answer`. `running`: the first call has not answered yet.
    `mismatch`: the key was used for another request."""

    outcome: Literal["run", "replay", "running", "mismatch"]
    answer: StoredAnswer | None = None
