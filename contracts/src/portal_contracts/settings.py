"""Settings every service shares; each service extends them with its own prefix-free names."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from portal_contracts.topics import Topic


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    mongodb_uri: str = "mongodb://127.0.0.1:27018/"
    # Prepended to every topic name; tests use it to give each test its own topics.
    topic_prefix: str = ""
    log_level: str = "INFO"

    def topic(self, topic: Topic | str) -> str:
        return f"{self.topic_prefix}{topic}"
