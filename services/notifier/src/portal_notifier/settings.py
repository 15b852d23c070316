"""Configuration from the environment (names = field names upper-cased, no prefix)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from portal_contracts.topics import ConsumerGroup
from portal_kit.sealing import DEV_SEAL_KEY
from portal_kit.settings import CommonSettings
from portal_notifier.delivery.domain import RetryPolicy


class Settings(CommonSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    environment: Literal["local", "production"] = "local"
    http_host: str = "127.0.0.1"
    http_port: int = 8030
    mongodb_database: str = "notifier"

    # Newest first; every key opens, so access can rotate without a flag day.
    seal_keys: str = DEV_SEAL_KEY

    # SES endpoint override (moto locally), botocore's per-service name; unset in production.
    # Never the generic AWS_ENDPOINT_URL: botocore would send workload identity's STS call there.
    aws_endpoint_url_sesv2: str | None = None
    aws_region: str = "eu-west-1"
    ses_sender: str = "portal@portal.example.com"
    ses_configuration_set: str | None = None
    # JSON object: {"<tenant_id>": "billing@a.example", "<tenant_id>/<entity_id>": "..."}.
    ses_senders: dict[str, str] = Field(default_factory=dict)

    # Shown when a sign-in arrives before the entity's branding did.
    neutral_brand_name: str = "Customer Portal"
    neutral_logo_url: str | None = None

    # Emails in flight per replica: SES calls overlap instead of queueing behind each other.
    send_concurrency: int = Field(default=16, ge=1, le=256)
    retry_base_seconds: float = Field(default=1.0, gt=0)
    retry_cap_seconds: float = Field(default=60.0, gt=0)
    retry_max_attempts: int = Field(default=8, ge=1)
    retry_window_seconds: float = Field(default=600.0, gt=0)
    retry_poll_seconds: float = Field(default=0.5, gt=0)
    # Longer than one SES call can take (connect + read timeouts below), so a live sender
    # never loses its claim to another replica mid-call.
    lease_seconds: float = Field(default=60.0, gt=0)
    # How often each replica looks for deliveries whose owner died mid-attempt.
    recovery_seconds: float = Field(default=15.0, gt=0)
    # Delivery records are kept well beyond the signin topic's retention (one day), so any
    # redelivery still finds its record.
    delivery_retention_hours: float = Field(default=168.0, ge=48.0)
    ses_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    ses_read_timeout_seconds: float = Field(default=15.0, gt=0)

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            keys = {k.strip() for k in self.seal_keys.split(",")}
            if DEV_SEAL_KEY in keys:
                raise ValueError("SEAL_KEYS must not contain the dev-only key in production")
        if self.lease_seconds <= self.ses_connect_timeout_seconds + self.ses_read_timeout_seconds:
            raise ValueError("LEASE_SECONDS must exceed one SES call's connect + read timeout")
        return self

    @property
    def consumer_group(self) -> str:
        return self.topic_prefix + ConsumerGroup.NOTIFIER

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            base_seconds=self.retry_base_seconds,
            cap_seconds=self.retry_cap_seconds,
            max_attempts=self.retry_max_attempts,
            window_seconds=self.retry_window_seconds,
        )
