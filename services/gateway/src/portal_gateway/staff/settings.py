"""Staff console tunables, read from the environment like the gateway's own settings.

No secret of its own: the staff session cookie is signed with a key derived from the
gateway's CSRF_SECRET (see session.derive_key), which the gateway already requires to be set
in production at start-up, so the console adds no secret to deploy or to forget.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StaffSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    # Staff work in short bursts: an unattended console closes itself soon.
    staff_session_idle_minutes: int = Field(default=30, ge=1, le=240)
    staff_session_max_hours: int = Field(default=8, ge=1, le=24)
