"""billing-view's rebuild: a Job template that no apply runs, with what the switch needs.

deploy/README.md, "Replaying a projection (billing-view)": the Job is created by hand from a
suspended CronJob; it rebuilds under the group of the database it builds, which is the group
the service must then run with.
"""

from __future__ import annotations

from typing import Any

import pytest

from billing_view.settings import Settings, rebuild_group

from .conftest import OVERLAYS
from .test_manifests import by_name, by_name_prefix, deployment_container, env_sources, objects


def rebuild_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    cron = by_name(docs, "CronJob", "billing-view-rebuild")
    # Never scheduled: `kubectl create job --from=cronjob/...` is the only way it runs.
    assert cron["spec"]["suspend"] is True
    pod: dict[str, Any] = cron["spec"]["jobTemplate"]["spec"]["template"]
    return pod


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_apply_runs_a_rebuild(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    docs = rendered[overlay]
    assert not objects(docs, "Job")
    rebuild_pod(docs)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_rebuild_follows_under_its_own_group_with_the_services_config(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    pod = rebuild_pod(docs)
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["billing-view"]
    assert container["args"] == ["replay", "--database", "$(REBUILD_DATABASE)", "--follow"]
    env = env_sources(container)
    service = env_sources(deployment_container(docs, "billing-view"))
    # Same Kafka, MongoDB, secrets and settings as the service, plus the database to build.
    assert {k: v for k, v in env.items() if k != "REBUILD_DATABASE"} == service
    database = env["REBUILD_DATABASE"]["valueFrom"]["configMapKeyRef"]
    assert database["name"].startswith("billing-view-rebuild-")
    # Its pods are not the Service's endpoints (it serves nothing).
    selector = by_name(docs, "Service", "billing-view")["spec"]["selector"]
    labels = pod["metadata"]["labels"]
    assert any(labels.get(k) != v for k, v in selector.items())
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["automountServiceAccountToken"] is False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_live_group_is_configured_beside_the_database(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    data = by_name_prefix(rendered[overlay], "ConfigMap", "billing-view-config")["data"]
    assert data["KAFKA_CONSUMER_GROUP"] == "billing-view"
    assert data["MONGODB_DATABASE"] == "billing_view"


def test_a_rebuilt_database_runs_only_under_its_own_group() -> None:
    assert Settings(mongodb_database="v2", kafka_consumer_group=rebuild_group("v2"))
    with pytest.raises(ValueError, match="not MONGODB_DATABASE's group"):
        Settings(mongodb_database="v3", kafka_consumer_group=rebuild_group("v2"))
    with pytest.raises(ValueError, match="KAFKA_CONSUMER_GROUP must be"):
        Settings(kafka_consumer_group="someone-else")
