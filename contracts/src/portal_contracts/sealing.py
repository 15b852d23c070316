"""The sealed sign-in secret: what `signin.requested.sealed_secret` holds once opened.

access seals this document and only the notifier can open it (the plaintext link and code
never travel through Kafka). On the wire the field is a Fernet token (AES-128-CBC +
HMAC-SHA256 with a timestamp, URL-safe base64) whose plaintext is this model as JSON. The
crypto lives in the runtime kit (`portal_kit.sealing`); this module is the format.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SignInSecret(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    link: str
    code: str
