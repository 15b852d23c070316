"""Dev-only defaults are refused in production."""

import pytest
from pydantic import ValidationError

from portal_kit.sealing import DEV_SEAL_KEY, new_key
from portal_notifier.settings import Settings


def test_local_defaults_work_with_the_local_stack() -> None:
    settings = Settings(_env_file=None)
    assert settings.http_port == 8030
    assert settings.mongodb_database == "notifier"
    assert settings.seal_keys == DEV_SEAL_KEY
    assert settings.consumer_group == "notifier"


def test_production_refuses_the_dev_seal_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="dev-only key"):
        Settings()
    monkeypatch.setenv("SEAL_KEYS", f"{new_key()},{DEV_SEAL_KEY}")
    with pytest.raises(ValidationError, match="dev-only key"):
        Settings()
    monkeypatch.setenv("SEAL_KEYS", new_key())
    assert Settings().environment == "production"


def test_sender_map_comes_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SES_SENDERS", '{"t1": "billing@t1.example", "t1/e1": "e1@t1.example"}')
    assert Settings().ses_senders == {"t1": "billing@t1.example", "t1/e1": "e1@t1.example"}


def test_lease_must_outlast_one_ses_call() -> None:
    with pytest.raises(ValidationError, match="LEASE_SECONDS"):
        Settings(lease_seconds=10, ses_connect_timeout_seconds=5, ses_read_timeout_seconds=15)
