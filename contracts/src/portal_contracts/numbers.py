"""Integers as MongoDB (and most consumers) can store them: signed 64-bit.

A contract-valid value must be storable by every consumer; Python ints are unbounded, BSON's
are not. So every integer of the wire format is bounded to int64 here, and the JSON Schemas
say so (`minimum`/`maximum`): a producer learns it at validation, a consumer dead-letters an
out-of-range event at decode instead of retrying a write that can never succeed.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
