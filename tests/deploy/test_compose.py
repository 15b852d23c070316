"""deploy/compose.yaml cannot run here (no Docker engine): it must at least parse, build the
four services from their Dockerfiles and run them with the images' own entry points."""

from __future__ import annotations

import ast
from typing import Any

import yaml

from .conftest import DEPLOY, REPO, SERVICES

COMPOSE = DEPLOY / "compose.yaml"


def load() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def test_builds_every_service_from_its_dockerfile_with_its_entry_point() -> None:
    services = load()["services"]
    for name in SERVICES:
        service = services[name]
        context = (COMPOSE.parent / service["build"]["context"]).resolve()
        assert context == REPO, "the Dockerfiles need the workspace lock at the context root"
        assert (context / service["build"]["dockerfile"]).is_file()
        assert service["build"]["dockerfile"] == f"deploy/docker/{name}.Dockerfile"
        assert "entrypoint" not in service
        assert "command" not in service
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]
        assert service["environment"]["ENVIRONMENT"] == "local"
    assert list(services["gateway"]["ports"]) == ["8000:8000"]
    for name in ("access", "billing-view", "notifier"):
        assert "ports" not in services[name], "only the gateway is published"


def test_real_kafka_mongodb_and_moto_images_pinned() -> None:
    services = load()["services"]
    for name in ("kafka", "mongodb", "moto"):
        image = services[name]["image"]
        assert ":" in image
        assert not image.endswith(":latest")
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["mongodb"]["image"].startswith("mongo:")
    assert services["moto"]["image"].startswith("motoserver/moto:")
    assert services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_inline_setup_scripts_are_valid_python() -> None:
    services = load()["services"]
    for name in ("kafka-topics", "moto-setup"):
        (source,) = services[name]["command"]
        ast.parse(source)
        assert services[name]["entrypoint"] == ["python", "-c"]
        assert (REPO / services[name]["build"]["dockerfile"]).is_file()
