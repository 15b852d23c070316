"""Production Kafka authenticates each service as its Strimzi KafkaUser (SCRAM over TLS)."""

import pytest
from faststream.kafka.security import parse_security
from faststream.security import SASLScram512
from pydantic import ValidationError

from portal_kit.settings import CommonSettings


def test_local_stack_default_is_plaintext_without_security() -> None:
    assert CommonSettings().kafka_security() is None


def test_sasl_ssl_gives_scram_512_over_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "portal-access")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    security = CommonSettings().kafka_security()
    assert isinstance(security, SASLScram512)
    options = parse_security(security)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "portal-access"
    assert options["sasl_plain_password"] == "s3cret"
    assert options["ssl_context"] is not None


def test_sasl_without_credentials_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ValidationError, match="KAFKA_SASL_USERNAME"):
        CommonSettings()


def test_password_is_not_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "portal-access")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    assert "s3cret" not in repr(CommonSettings())


def test_raw_aiokafka_clients_get_the_same_options(monkeypatch: pytest.MonkeyPatch) -> None:
    assert CommonSettings().kafka_client_options() == {}
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "portal-billing-view")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    options = CommonSettings().kafka_client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "portal-billing-view"
