"""What the projection's writes report."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WriteOutcome:
    """Of the writes of a batch: how many changed the read model, how many were stale."""

    applied: int
    stale: int
