"""Version-1 payloads of the events the portal itself produces."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from portal_contracts.billing import (
    BillingProfile,
    Contact,
    PaymentMethodType,
    ShortText,
)
from portal_contracts.envelope import Identifier
from portal_contracts.numbers import Count
from portal_contracts.timestamps import Instant

Email = Annotated[
    str, StringConstraints(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RuleKind(StrEnum):
    DOMAIN = "domain"
    EMAIL = "email"


class PortalEnabled(_Model):
    bill_group_id: Identifier
    actor: ShortText


class PortalDisabled(_Model):
    bill_group_id: Identifier
    actor: ShortText


class AccessGranted(_Model):
    bill_group_id: Identifier
    rule_id: Identifier
    kind: RuleKind
    value: ShortText
    actor: ShortText


class AccessRevoked(_Model):
    bill_group_id: Identifier
    rule_id: Identifier
    kind: RuleKind
    value: ShortText
    actor: ShortText
    sessions_ended: Count


class PortalLinkRotated(_Model):
    bill_group_id: Identifier
    actor: ShortText


class SigninRequested(_Model):
    """Asks the notifier to send a verification email.

    `sealed` is the verification link and one-time code encrypted with a key that only access
    and the notifier hold: the plaintext token never travels through Kafka.
    """

    challenge_id: Identifier
    bill_group_id: Identifier
    entity_id: Identifier | None = None
    email: Email
    expires_at: Instant
    sealed: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    locale: ShortText = "en"


class SigninMethod(StrEnum):
    LINK = "link"
    CODE = "code"


class SigninCompleted(_Model):
    challenge_id: Identifier
    bill_group_id: Identifier
    email: Email
    method: SigninMethod
    preview: bool = False


class BillingProfileChangeRequested(_Model):
    change_id: Identifier
    bill_group_id: Identifier
    actor_email: Email
    billing_profile: BillingProfile


class ContactRole(StrEnum):
    BILLING = "billing"
    SHIPPING = "shipping"


class ContactChangeRequested(_Model):
    change_id: Identifier
    bill_group_id: Identifier
    actor_email: Email
    role: ContactRole
    contact: Contact


class DefaultPaymentMethodChangeRequested(_Model):
    change_id: Identifier
    bill_group_id: Identifier
    actor_email: Email
    payment_method_id: Identifier


class PaymentMethodAddRequested(_Model):
    """Only what the vault returns after tokenising: never a card or account number."""

    change_id: Identifier
    bill_group_id: Identifier
    actor_email: Email
    payment_method_id: Identifier
    vault_token: Annotated[str, StringConstraints(min_length=8, max_length=256)]
    type: PaymentMethodType
    brand: ShortText
    last4: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]
    exp_month: int | None = Field(default=None, ge=1, le=12)
    exp_year: int | None = Field(default=None, ge=2000, le=2200)
    holder_name: ShortText | None = None
    make_default: bool = False


class NotificationFailed(_Model):
    source_event_id: Identifier
    bill_group_id: Identifier
    kind: ShortText = "signin_email"
    reason: ShortText
    failed_at: Instant
