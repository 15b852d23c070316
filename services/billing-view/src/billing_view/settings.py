"""Configuration from the environment (names = field names upper-cased, no prefix)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from portal_contracts.topics import ConsumerGroup, dead_letter_topic
from portal_kit.settings import DEV_INTERNAL_API_TOKEN, CommonSettings


class Settings(CommonSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    environment: Literal["local", "production"] = "local"
    http_host: str = "127.0.0.1"
    http_port: int = 8020
    mongodb_database: str = "billing_view"
    internal_api_token: str = DEV_INTERNAL_API_TOKEN

    # Records per poll: bigger batches mean fewer, bulkier conditional writes.
    batch_max_records: int = Field(default=500, ge=1, le=10_000)
    batch_timeout_ms: int = Field(default=100, ge=1)
    # Attempts before a message that keeps failing goes to the dead-letter topic.
    max_attempts: int = Field(default=3, ge=1, le=20)
    retry_base_seconds: float = Field(default=0.2, gt=0)

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> Settings:
        if self.environment == "production" and self.internal_api_token in (
            DEV_INTERNAL_API_TOKEN,
            "",
        ):
            raise ValueError("INTERNAL_API_TOKEN must be set to a real secret in production")
        return self

    @property
    def consumer_group(self) -> str:
        return self.topic_prefix + ConsumerGroup.BILLING_VIEW

    @property
    def dead_letter_topic(self) -> str:
        return self.topic(dead_letter_topic(ConsumerGroup.BILLING_VIEW))
