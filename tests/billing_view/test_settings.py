"""Settings: local defaults work, the dev-only token is refused in production."""

import pytest
from pydantic import ValidationError

from billing_view.settings import Settings
from portal_kit.settings import DEV_INTERNAL_API_TOKEN


def test_local_defaults() -> None:
    settings = Settings(topic_prefix="t1.")
    assert settings.http_port == 8020
    assert settings.mongodb_database == "billing_view"
    assert settings.consumer_group == "t1.billing-view"
    assert settings.dead_letter_topic == "t1.dlq.billing-view"


@pytest.mark.parametrize("token", [DEV_INTERNAL_API_TOKEN, ""])
def test_production_refuses_the_dev_token(token: str) -> None:
    with pytest.raises(ValidationError, match="INTERNAL_API_TOKEN"):
        Settings(environment="production", internal_api_token=token)


def test_production_accepts_a_real_token() -> None:
    assert (
        Settings(environment="production", internal_api_token="s3cr3t-from-vault").environment
        == "production"
    )
