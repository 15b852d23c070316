"""Configuration from the environment (names = field names upper-cased, no prefix)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from portal_contracts.topics import ConsumerGroup
from portal_kit.settings import CommonSettings


class Settings(CommonSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", validate_by_name=True)

    # moto's S3, where it uploads invoice PDFs and logos: botocore's per-service variable, as
    # the services read it (the local stack sets no generic AWS_ENDPOINT_URL).
    aws_endpoint_url: str = Field(
        default="http://127.0.0.1:5055", validation_alias="AWS_ENDPOINT_URL_S3"
    )
    aws_region: str = "eu-west-1"
    documents_bucket: str = "invoice-documents"
    logos_bucket: str = "brand-assets"

    @property
    def consumer_group(self) -> str:
        return self.topic_prefix + ConsumerGroup.BILLING_SIMULATOR
