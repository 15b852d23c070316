"""Gateway configuration: environment variables named after the fields, upper-cased."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from portal_kit.settings import DEV_INTERNAL_API_TOKEN, CommonSettings

DEV_CSRF_SECRET = "dev-csrf-secret-change-me-0123456789"  # noqa: S105 - refused in production
# Local: the client connects directly (or through a proxy on this machine).
LOOPBACK_PROXIES = "127.0.0.1/32,::1/128"


class Settings(CommonSettings):
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    environment: Literal["local", "production"] = "local"
    internal_api_token: str = DEV_INTERNAL_API_TOKEN
    access_url: str = "http://127.0.0.1:8010"
    billing_view_url: str = "http://127.0.0.1:8020"
    # Per-call budget for access and billing-view; a page makes one billing-view call (and
    # one access call when its session is not in the cache).
    upstream_timeout_seconds: float = 5.0
    # How long this process serves a validated session without asking access again: a
    # session revoked elsewhere can still be served for up to this long (README, Sessions).
    session_cache_seconds: float = Field(default=2.0, ge=0, le=5)
    csrf_secret: str = DEV_CSRF_SECRET
    # How long the gateway waits for billing-view to show a just-published change before
    # answering "saved, waiting for confirmation" anyway.
    change_visible_wait_seconds: float = 3.0
    # S3 endpoint override (moto locally), botocore's per-service name; unset in production.
    # Never the generic AWS_ENDPOINT_URL: botocore would send workload identity's STS call there.
    aws_endpoint_url_s3: str | None = None
    # The local SES (moto) whose accepted emails `/dev/mailbox` lists; unset in production.
    aws_endpoint_url_sesv2: str | None = None
    aws_region: str = "eu-west-1"
    dev_mailbox_enabled: bool = False
    # Comma-separated addresses/CIDRs of the proxies in front of the gateway (production: the
    # ingress controller's pods, deploy/README.md). Their X-Forwarded-For names the client;
    # anyone else's is ignored. The client IP keys the sign-in rate limit per IP.
    trusted_proxies: str = LOOPBACK_PROXIES
    default_locale: str = "en_US"

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        networks = [str(ipaddress.ip_network(item.strip())) for item in value.split(",")]
        return ",".join(networks)

    @property
    def trusted_proxy_networks(self) -> list[str]:
        return self.trusted_proxies.split(",")

    @property
    def cookie_secure(self) -> bool:
        # Local dev serves plain http on loopback, where browsers drop Secure cookies.
        return self.environment != "local"

    @model_validator(mode="after")
    def _refuse_dev_values_in_production(self) -> Settings:
        if self.environment == "production":
            if self.internal_api_token == DEV_INTERNAL_API_TOKEN:
                raise ValueError("INTERNAL_API_TOKEN must be set in production")
            if self.csrf_secret == DEV_CSRF_SECRET:
                raise ValueError("CSRF_SECRET must be set in production")
            if self.dev_mailbox_enabled:
                raise ValueError("DEV_MAILBOX_ENABLED is for local development only")
            if self.trusted_proxies == LOOPBACK_PROXIES:
                # Behind an ingress, loopback-only makes every customer one client IP.
                raise ValueError("TRUSTED_PROXIES must name the ingress controller's addresses")
        if len(self.csrf_secret) < 32:
            raise ValueError("CSRF_SECRET must be at least 32 characters")
        return self


class StaffSettings(BaseSettings):
    """Staff console tunables. No secret of its own: the staff session cookie is signed with a
    key derived from CSRF_SECRET (`staff.domain.derive_key`), which production must set."""

    model_config = SettingsConfigDict(extra="ignore")

    # Staff work in short bursts: an unattended console closes itself soon.
    staff_session_idle_minutes: int = Field(default=30, ge=1, le=240)
    staff_session_max_hours: int = Field(default=8, ge=1, le=24)
