"""Staff console configuration, read from the environment like the gateway's own settings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_STAFF_SESSION_SECRET = "dev-staff-session-secret-change-me-0123456789"  # noqa: S105


class StaffSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    environment: Literal["local", "production"] = "local"
    # Signs the staff session cookie; shared by every gateway replica.
    staff_session_secret: str = DEV_STAFF_SESSION_SECRET
    # Staff work in short bursts: an unattended console closes itself soon.
    staff_session_idle_minutes: int = Field(default=30, ge=1, le=240)
    staff_session_max_hours: int = Field(default=8, ge=1, le=24)

    @property
    def cookie_secure(self) -> bool:
        return self.environment != "local"

    @property
    def sign_in_page_enabled(self) -> bool:
        """The admin-API-key sign-in page exists only for local development."""
        return self.environment == "local"

    @model_validator(mode="after")
    def _refuse_dev_secret_in_production(self) -> StaffSettings:
        if self.environment == "production" and (
            self.staff_session_secret == DEV_STAFF_SESSION_SECRET
        ):
            raise ValueError("STAFF_SESSION_SECRET must be set in production")
        if len(self.staff_session_secret) < 32:
            raise ValueError("STAFF_SESSION_SECRET must be at least 32 characters")
        return self
