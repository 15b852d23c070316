"""Invoice PDFs from S3, streamed to the customer without buffering whole files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from portal_gateway.errors import NotFoundError, UpstreamError
from portal_gateway.settings import Settings

CHUNK = 64 * 1024


class DocumentStore:
    def __init__(self, settings: Settings) -> None:
        self.s3: Any = boto3.client(
            "s3",
            endpoint_url=settings.aws_endpoint_url_s3,
            region_name=settings.aws_region,
            config=Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2}),
        )

    async def open(self, bucket: str, key: str) -> AsyncIterator[bytes]:
        """Fails before the first byte (NotFoundError/UpstreamError): the status is ours."""
        try:
            obj = await anyio.to_thread.run_sync(lambda: self.s3.get_object(Bucket=bucket, Key=key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "NoSuchBucket", "404"):
                raise NotFoundError("We could not find that.") from exc
            raise UpstreamError("document store refused") from exc
        except BotoCoreError as exc:
            raise UpstreamError("document store unreachable") from exc
        body = obj["Body"]

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while True:
                    chunk: bytes = await anyio.to_thread.run_sync(body.read, CHUNK)
                    if not chunk:
                        return
                    yield chunk
            finally:
                body.close()

        return chunks()
