"""Settings every service shares; each service extends them with its own prefix-free names."""

from __future__ import annotations

import ssl
from typing import Any, Literal

from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLScram512
from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from portal_contracts.topics import Topic

# The service-to-service token of a local stack. gateway, access and billing-view must agree
# on it, so it lives here once; each service refuses it when ENVIRONMENT=production.
DEV_INTERNAL_API_TOKEN = "dev-internal-token"  # noqa: S105 - dev-only, refused in production


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    # The local stack speaks plaintext; a production cluster (Strimzi) authenticates each
    # service as its own KafkaUser over TLS, which is what the per-service ACLs key on.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    # PEM bundle of the cluster's CA; empty means the system trust store.
    kafka_ca_file: str = ""
    mongodb_uri: str = "mongodb://127.0.0.1:27018/"
    # Prepended to every topic name; tests use it to give each test its own topics.
    topic_prefix: str = ""
    log_level: str = "INFO"

    def topic(self, topic: Topic | str) -> str:
        return f"{self.topic_prefix}{topic}"

    def kafka_security(self) -> BaseSecurity | None:
        """Pass as `KafkaBroker(..., security=settings.kafka_security())`."""
        if self.kafka_security_protocol == "PLAINTEXT":
            return None
        context = ssl.create_default_context(cafile=self.kafka_ca_file or None)
        return SASLScram512(
            self.kafka_sasl_username,
            self.kafka_sasl_password.get_secret_value(),
            ssl_context=context,
        )

    def kafka_client_options(self) -> dict[str, Any]:
        """The same security as keyword arguments of raw aiokafka clients (admin, replay)."""
        return parse_security(self.kafka_security())

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> CommonSettings:
        if self.kafka_security_protocol == "SASL_SSL" and not (
            self.kafka_sasl_username and self.kafka_sasl_password.get_secret_value()
        ):
            raise ValueError(
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required for SASL_SSL"
            )
        return self
