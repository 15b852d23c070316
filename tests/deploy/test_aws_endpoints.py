"""AWS endpoints: none in any cluster, per service (never the generic one) on a laptop.

botocore sends every client to `AWS_ENDPOINT_URL`, including the STS client that exchanges
the pod's web identity token (IRSA) for credentials: with it set, S3 and SES calls in
production fail for want of credentials. Clusters therefore set no endpoint at all, and the
local stack and compose set botocore's per-service `AWS_ENDPOINT_URL_S3`/`_SESV2`, which
leave STS alone.
"""

from __future__ import annotations

import asyncio
import email.message
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from portal_gateway.clients.documents import DocumentStore
from portal_gateway.settings import Settings as GatewaySettings
from portal_localstack.aws import AWS_REGION, SENDER_DOMAIN, prepare_aws, sent_emails
from portal_localstack.moto import MotoServer
from portal_localstack.ports import free_port
from portal_localstack.stack import Endpoints
from portal_notifier.delivery.ses import SesClient
from portal_notifier.settings import Settings as NotifierSettings

from .conftest import DEPLOY, OVERLAYS

GENERIC = "AWS_ENDPOINT_URL"


def endpoint_names(names: Any) -> list[str]:
    return sorted(str(n) for n in names if str(n).startswith(GENERIC))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_cluster_sets_an_aws_endpoint(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    for doc in rendered[overlay]:
        where = f"{overlay}: {doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] == "ConfigMap":
            assert not endpoint_names(doc.get("data", {})), where
            assert "amazonaws.com" not in yaml.safe_dump(doc.get("data", {})), where
        if doc["kind"] in ("Deployment", "Job", "CronJob"):
            text = yaml.safe_dump(doc)
            assert GENERIC not in text, where


def test_no_service_reads_the_generic_endpoint() -> None:
    for settings in (GatewaySettings, NotifierSettings):
        fields = {name.upper() for name in settings.model_fields}
        assert GENERIC not in fields, settings.__module__


def test_local_stack_and_compose_set_per_service_endpoints_only() -> None:
    env = Endpoints("127.0.0.1:1", "mongodb://127.0.0.1:2/", "http://127.0.0.1:3").as_env()
    assert endpoint_names(env) == ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SESV2"]
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    service_env = compose["x-env"]
    assert endpoint_names(service_env) == ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SESV2"]


@pytest.fixture
def moto(tmp_path: Path) -> Iterator[MotoServer]:
    server = MotoServer(free_port(), tmp_path)
    server.start()
    try:
        server.wait_ready()
        prepare_aws(server.endpoint)
        yield server
    finally:
        server.stop()


def test_with_the_local_stack_env_s3_and_ses_reach_moto_and_sts_stays_real(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(GENERIC, raising=False)
    env = Endpoints("127.0.0.1:1", "mongodb://127.0.0.1:2/", moto.endpoint).as_env()
    for key, value in {
        **env,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": AWS_REGION,
        "AWS_DEFAULT_REGION": AWS_REGION,
    }.items():
        monkeypatch.setenv(key, value)

    # Workload identity's STS call goes to AWS, whatever the local overrides.
    sts = boto3.client("sts", region_name=AWS_REGION)
    assert "amazonaws.com" in sts.meta.endpoint_url

    bucket, key = f"docs-{uuid.uuid4().hex[:8]}", "invoice.pdf"
    s3 = boto3.client("s3", region_name=AWS_REGION)
    assert s3.meta.endpoint_url == moto.endpoint
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=bucket, Key=key, Body=b"%PDF-1.7 invoice")

    gateway = GatewaySettings()
    # The dev mailbox lists what the local SES accepted.
    assert gateway.aws_endpoint_url_sesv2 == moto.endpoint

    async def read_pdf() -> bytes:
        chunks = await DocumentStore(gateway).open(bucket, key)
        return b"".join([chunk async for chunk in chunks])

    assert asyncio.run(read_pdf()) == b"%PDF-1.7 invoice"

    message = email.message.EmailMessage()
    recipient = f"{uuid.uuid4().hex[:8]}@example.com"
    message["From"], message["To"], message["Subject"] = f"portal@{SENDER_DOMAIN}", recipient, "x"
    message.set_content("hello")
    ses = SesClient(NotifierSettings())
    try:
        message_id = ses.send_raw(
            message.as_bytes(), sender=f"portal@{SENDER_DOMAIN}", recipient=recipient
        )
    finally:
        ses.close()
    assert message_id in {m["id"] for m in sent_emails(moto.endpoint)}
