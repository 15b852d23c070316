"""Dev-only secrets are refused in production; local defaults work with the local stack."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from portal_access.settings import Settings
from portal_kit.sealing import DEV_SEAL_KEY, new_key


def test_local_defaults() -> None:
    settings = Settings()
    assert settings.http_port == 8010
    assert settings.mongodb_database == "access"
    assert settings.seal_keys == DEV_SEAL_KEY
    assert settings.portal_url("k") == "http://127.0.0.1:8000/p/k"


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"seal_keys": new_key(), "portal_public_url": "https://p.example"}, "INTERNAL_API_TOKEN"),
        (
            {"internal_api_token": "s3cret", "seal_keys": f"{new_key()},{DEV_SEAL_KEY}"},
            "SEAL_KEYS",
        ),
        (
            {"internal_api_token": "s3cret", "seal_keys": new_key()},
            "https",
        ),
    ],
)
def test_production_refuses_dev_values(overrides: dict[str, str], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        Settings(environment="production", **overrides)  # type: ignore[arg-type]


def test_production_with_real_values() -> None:
    settings = Settings(
        environment="production",
        internal_api_token="s3cret",
        seal_keys=new_key(),
        portal_public_url="https://portal.example",
    )
    assert settings.environment == "production"
