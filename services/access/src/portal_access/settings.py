"""Configuration of the access service (env var = field name upper-cased)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from portal_contracts import urls
from portal_kit.sealing import DEV_SEAL_KEY
from portal_kit.settings import DEV_INTERNAL_API_TOKEN, CommonSettings


class Settings(CommonSettings):
    environment: Literal["local", "production"] = "local"
    http_host: str = "127.0.0.1"
    http_port: int = 8010
    mongodb_database: str = "access"
    internal_api_token: str = DEV_INTERNAL_API_TOKEN
    # Comma-separated Fernet keys, newest first; shared with the notifier only.
    seal_keys: str = DEV_SEAL_KEY
    portal_public_url: str = "http://127.0.0.1:8000"

    # Sign-in request limits (per fixed window). Defaults: an address may ask 5 times in 15
    # minutes, one client IP 30 times in 15 minutes, one portal 300 times a minute.
    signin_limit_per_email: int = Field(default=5, ge=1)
    signin_window_email_seconds: int = Field(default=900, ge=1)
    signin_limit_per_ip: int = Field(default=30, ge=1)
    signin_window_ip_seconds: int = Field(default=900, ge=1)
    signin_limit_per_portal: int = Field(default=300, ge=1)
    signin_window_portal_seconds: int = Field(default=60, ge=1)

    # The relay publishes a local write's events at once; a sweep every RELAY_POLL_SECONDS
    # catches what a crash left behind and the writes of replicas with RELAY_ENABLED=false.
    relay_enabled: bool = True
    relay_poll_seconds: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            if self.internal_api_token == DEV_INTERNAL_API_TOKEN:
                raise ValueError("INTERNAL_API_TOKEN must be set in production")
            if DEV_SEAL_KEY in [k.strip() for k in self.seal_keys.split(",")]:
                raise ValueError("SEAL_KEYS must not contain the dev-only key in production")
            if not self.portal_public_url.startswith("https://"):
                raise ValueError("PORTAL_PUBLIC_URL must be https in production")
        return self

    def portal_url(self, portal_key: str) -> str:
        return urls.portal_url(self.portal_public_url, portal_key)
