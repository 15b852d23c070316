"""Money is integer minor units plus an ISO 4217 code, never a float."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from portal_contracts.numbers import Int64

CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class Money(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    amount_minor: Int64 = Field(description="Amount in the currency's minor unit (cents).")
    currency: CurrencyCode
