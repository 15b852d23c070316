"""Amazon SES v2 through boto3, with faults translated into the notifier's two kinds."""

from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from portal_notifier.delivery.domain import Failure, SesError, classify_ses_error
from portal_notifier.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_sesv2 import SESV2Client


class SesClient:
    def __init__(self, settings: Settings) -> None:
        config = Config(
            region_name=settings.aws_region,
            connect_timeout=settings.ses_connect_timeout_seconds,
            read_timeout=settings.ses_read_timeout_seconds,
            # Our own backoff (parked in MongoDB) is the only retry loop: botocore retrying
            # inside the call would block the partition and hide throttling from metrics.
            retries={"total_max_attempts": 1, "mode": "standard"},
            # One connection per concurrent send: SES calls overlap, none waits for a socket.
            max_pool_connections=settings.send_concurrency,
        )
        self._client: SESV2Client = boto3.client(
            "sesv2", endpoint_url=settings.aws_endpoint_url_sesv2, config=config
        )
        self._configuration_set = settings.ses_configuration_set
        # boto3 blocks: its own threads, as many as sends may be in flight (SEND_CONCURRENCY).
        # The loop's default executor has min(32, CPUs + 4) threads, shared with anything
        # else, which on a 2-CPU pod quietly capped SES concurrency at 6.
        self._threads = ThreadPoolExecutor(settings.send_concurrency, thread_name_prefix="ses")

    def send_raw(self, raw: bytes, *, sender: str, recipient: str) -> str:
        kwargs: dict[str, Any] = {
            "FromEmailAddress": sender,
            "Destination": {"ToAddresses": [recipient]},
            "Content": {"Raw": {"Data": raw}},
        }
        if self._configuration_set:
            kwargs["ConfigurationSetName"] = self._configuration_set
        try:
            reply = self._client.send_email(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or "Unknown")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            raise SesError(
                classify_ses_error(code, status), code, str(error.get("Message") or "")
            ) from exc
        except BotoCoreError as exc:
            # No answer at all (connection refused, timeout): SES may be briefly unreachable.
            raise SesError(Failure.TRANSIENT, type(exc).__name__, str(exc)) from exc
        return str(reply["MessageId"])

    async def send(self, raw: bytes, *, sender: str, recipient: str) -> str:
        # boto3 is blocking; a thread keeps the consumer, retry worker and HTTP responsive.
        # In the caller's context: the attempt's trace span and log fields go with the call.
        call = partial(
            contextvars.copy_context().run, self.send_raw, raw, sender=sender, recipient=recipient
        )
        return await asyncio.get_running_loop().run_in_executor(self._threads, call)

    def close(self) -> None:
        self._threads.shutdown(wait=False)
