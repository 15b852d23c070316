"""Configuration from the environment (names = field names upper-cased, no prefix)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from portal_contracts.topics import ConsumerGroup, dead_letter_topic
from portal_kit.settings import DEV_INTERNAL_API_TOKEN, CommonSettings

REBUILD_GROUP_PREFIX = f"{ConsumerGroup.BILLING_VIEW.value}."


def rebuild_group(database: str) -> str:
    """The consumer group of a read model rebuilt into `database` (without TOPIC_PREFIX)."""
    return REBUILD_GROUP_PREFIX + database


class Settings(CommonSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    environment: Literal["local", "production"] = "local"
    http_host: str = "127.0.0.1"
    http_port: int = 8020
    mongodb_database: str = "billing_view"
    # Always switched together with MONGODB_DATABASE: a database rebuilt by `billing-view
    # replay --database D` has its own group, `billing-view.D`, whose committed offsets are
    # exactly where the rebuild stopped (deploy/README.md, "Replaying a projection
    # (billing-view)"). The live group's offsets belong to the live database and to no other.
    kafka_consumer_group: str = ConsumerGroup.BILLING_VIEW.value
    internal_api_token: str = DEV_INTERNAL_API_TOKEN

    # Records per poll: bigger batches mean fewer, bulkier conditional writes.
    batch_max_records: int = Field(default=500, ge=1, le=10_000)
    batch_timeout_ms: int = Field(default=100, ge=1)
    # Attempts before a message that keeps failing goes to the dead-letter topic.
    max_attempts: int = Field(default=3, ge=1, le=20)
    retry_base_seconds: float = Field(default=0.2, gt=0)

    @field_validator("kafka_consumer_group")
    @classmethod
    def _billing_view_group(cls, value: str) -> str:
        # The only groups billing-view's KafkaUser may use (deploy/k8s/kafka_resources.py).
        if value != ConsumerGroup.BILLING_VIEW and not value.startswith(REBUILD_GROUP_PREFIX):
            raise ValueError(
                f"KAFKA_CONSUMER_GROUP must be billing-view or {REBUILD_GROUP_PREFIX}*"
            )
        return value

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> Settings:
        if self.environment == "production" and self.internal_api_token in (
            DEV_INTERNAL_API_TOKEN,
            "",
        ):
            raise ValueError("INTERNAL_API_TOKEN must be set to a real secret in production")
        group = self.kafka_consumer_group
        if group != ConsumerGroup.BILLING_VIEW and group != rebuild_group(self.mongodb_database):
            # A rebuilt database's offsets are its own group's: any other group would skip or
            # replay what that database has not seen.
            raise ValueError(f"KAFKA_CONSUMER_GROUP {group} is not MONGODB_DATABASE's group")
        return self

    @property
    def consumer_group(self) -> str:
        return self.topic_prefix + self.kafka_consumer_group

    @property
    def dead_letter_topic(self) -> str:
        return self.topic(dead_letter_topic(ConsumerGroup.BILLING_VIEW))
