"""The Kubernetes manifests: rendered by kustomize, validated, and held to the invariants.

Every object of every overlay is validated: the built-in kinds with `kubernetes-validate`
(strict), the Strimzi kinds against the schemas vendored under deploy/k8s/schemas. Anything
else is an error, so a new kind cannot slip in unvalidated.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate
import pytest
from pydantic_settings import BaseSettings

from portal_contracts.topics import TOPICS, ConsumerGroup, dead_letter_topic
from portal_kit import serving as service_kit
from portal_kit.settings import CommonSettings

from .conftest import K8S, OVERLAYS, SERVICES, ServiceInfo

# The oldest version we support (preStop `sleep` is on by default from 1.30) and the newest
# kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.latest_version())
SCHEMAS = K8S / "schemas"
CUSTOM_KINDS = {
    ("kafka.strimzi.io/v1", "KafkaTopic"),
    ("kafka.strimzi.io/v1", "KafkaUser"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}

# What a service reads, until its Settings class exists (docs/CONVENTIONS.md and the
# environment `portal-dev` gives each service). Once `<module>.settings.Settings` imports,
# its fields are the list instead.
DOCUMENTED_SETTINGS = {
    "access": {"PORTAL_PUBLIC_URL", "SEAL_KEYS"},
    "billing-view": set(),
    "notifier": {"SEAL_KEYS", "SES_SENDER", "AWS_REGION"},
    "gateway": {"ACCESS_URL", "BILLING_VIEW_URL", "CSRF_SECRET", "AWS_REGION"},
}
PER_SERVICE = {"HTTP_HOST", "HTTP_PORT", "ENVIRONMENT", "INTERNAL_API_TOKEN"}
# Settings a service declares but does not read, with the reason.
NOT_READ = {
    # The gateway holds no database (docs/DESIGN.md); it inherits the field from CommonSettings.
    "gateway": {"MONGODB_URI"},
}
SECRET_WORDS = {"TOKEN", "SECRET", "PASSWORD", "KEYS", "KEY", "URI"}


def setting_names(service: ServiceInfo) -> tuple[set[str], set[str], str]:
    """(settings to provide, settings that may stay unset, where the list came from).

    A setting whose default is None may stay unset: None is its production value (e.g. no
    AWS endpoint override, so boto3 uses the real regional endpoint)."""
    try:
        module = importlib.import_module(f"{service.module}.settings")
    except ModuleNotFoundError:
        names = {name.upper() for name in CommonSettings.model_fields}
        names |= PER_SERVICE | DOCUMENTED_SETTINGS[service.name]
        if service.database is not None:
            names.add("MONGODB_DATABASE")
        return names - NOT_READ.get(service.name, set()), set(), "documented"
    settings_class: type[BaseSettings] = module.Settings
    fields = settings_class.model_fields
    names = {name.upper() for name in fields}
    optional = {name.upper() for name, info in fields.items() if info.default is None}
    return names - NOT_READ.get(service.name, set()), optional, "Settings.model_fields"


def objects(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def by_name(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [doc for doc in objects(docs, kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def deployment_container(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    pod = by_name(docs, "Deployment", name)["spec"]["template"]["spec"]
    containers: list[dict[str, Any]] = pod["containers"]
    assert [c["name"] for c in containers] == [name]
    return containers[0]


def all_containers(
    docs: list[dict[str, Any]],
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for deployment in objects(docs, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            yield deployment["metadata"]["name"], pod, container


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_strictly(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    custom = {key: custom_schema(*key) for key in CUSTOM_KINDS}
    docs = rendered[overlay]
    assert docs
    for doc in docs:
        where = f"{overlay}: {doc['kind']}/{doc['metadata']['name']}"
        if (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS:
            jsonschema.Draft202012Validator(custom[doc["apiVersion"], doc["kind"]]).validate(doc)
            continue
        try:
            for version in KUBERNETES_VERSIONS:
                kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            pytest.fail(f"{where}: no schema for this kind; vendor one or drop the object")
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(map(str, exc.path))
            pytest.fail(f"{where} (Kubernetes {exc.version}): {path}: {exc.message}")


def custom_schema(api_version: str, kind: str) -> dict[str, Any]:
    group, version = api_version.split("/")
    path = SCHEMAS / f"{kind.lower()}-{group.split('.')[0]}-{version}.json"
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def test_a_strimzi_schema_rejects_an_unknown_field() -> None:
    schema = custom_schema("kafka.strimzi.io/v1", "KafkaTopic")
    topic = {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaTopic",
        "metadata": {"name": "t", "labels": {"strimzi.io/cluster": "c"}},
        "spec": {"partitions": 1, "replicas": 1, "replica": 3},
    }
    with pytest.raises(jsonschema.ValidationError, match="replica"):
        jsonschema.Draft202012Validator(schema).validate(topic)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_is_locked_down_and_probed(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    containers = list(all_containers(rendered[overlay]))
    assert {name for name, _, _ in containers} == set(SERVICES)
    for name, pod, container in containers:
        where = f"{overlay}/{name}"
        resources = container["resources"]
        for kind in ("cpu", "memory"):
            assert resources["requests"][kind], where
            assert resources["limits"][kind], where
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", where
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", where
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz", where
        security = container["securityContext"]
        assert security["runAsNonRoot"] is True, where
        assert security["readOnlyRootFilesystem"] is True, where
        assert security["allowPrivilegeEscalation"] is False, where
        assert security["capabilities"]["drop"] == ["ALL"], where
        assert "add" not in security["capabilities"], where
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["securityContext"]["runAsUser"] >= 10000, where
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
        assert pod["automountServiceAccountToken"] is False, where
        # A read-only root needs somewhere writable for temporary files.
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], where
        image = container["image"]
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", image), f"{where}: unpinned image {image}"
        assert not image.endswith(":latest"), where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_termination_outlasts_the_drain_and_consumer_shutdown(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    http_drain = inspect.signature(service_kit.serve).parameters["graceful_seconds"].default
    # Consumers finish the message in hand, commit and leave their groups: allow 15 s.
    consumer_stop = 15
    for name, pod, container in all_containers(rendered[overlay]):
        pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        needed = pre_stop + http_drain + consumer_stop
        assert pod["terminationGracePeriodSeconds"] >= needed, f"{overlay}/{name}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_has_its_service_autoscaler_budget_and_account(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    for service in SERVICES.values():
        deployment = by_name(docs, "Deployment", service.name)
        assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
        selector = deployment["spec"]["selector"]["matchLabels"]
        svc = by_name(docs, "Service", service.name)
        assert svc["spec"]["selector"] == selector
        assert svc["spec"]["ports"][0]["port"] == service.port
        container = deployment_container(docs, service.name)
        assert container["ports"][0]["containerPort"] == service.port
        hpa = by_name(docs, "HorizontalPodAutoscaler", service.name)
        assert hpa["spec"]["scaleTargetRef"]["name"] == service.name
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        if service.consumer_group is not None:
            # Replicas beyond the partition count of every consumed topic would sit idle.
            group = ConsumerGroup(service.consumer_group)
            consumed = [spec.partitions for spec in TOPICS.values() if group in spec.consumers]
            assert hpa["spec"]["maxReplicas"] <= max(consumed)
        pdb = by_name(docs, "PodDisruptionBudget", service.name)
        assert pdb["spec"]["selector"]["matchLabels"] == selector
        account = by_name(docs, "ServiceAccount", service.name)
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == service.name
        assert account["automountServiceAccountToken"] is False


def env_sources(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert "envFrom" not in container, "explicit env entries keep every setting reviewable"
    return {entry["name"]: entry for entry in container["env"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", list(SERVICES.values()), ids=list(SERVICES))
def test_every_setting_comes_from_a_configmap_or_a_secret(
    rendered: dict[str, list[dict[str, Any]]], overlay: str, service: ServiceInfo
) -> None:
    docs = rendered[overlay]
    names, optional, source = setting_names(service)
    env = env_sources(deployment_container(docs, service.name))
    missing = sorted(names - optional - set(env))
    assert not missing, (
        f"{service.name} settings ({source}) without an env entry: {missing}; add each to "
        f"deploy/k8s/base/{service.name}/config.env (or a Secret) and to the env list of "
        f"deploy/k8s/base/{service.name}/deployment.yaml"
    )
    configmaps = {cm["metadata"]["name"]: cm["data"] for cm in objects(docs, "ConfigMap")}
    for name, entry in env.items():
        assert "value" not in entry, f"{name}: literal values belong in the ConfigMap"
        ref = entry["valueFrom"]
        if SECRET_WORDS & set(name.split("_")):
            assert "secretKeyRef" in ref, f"{service.name}: {name} must come from a Secret"
            assert not ref["secretKeyRef"].get("optional", False)
        else:
            cm_ref = ref["configMapKeyRef"]
            assert cm_ref["key"] in configmaps[cm_ref["name"]], f"{service.name}: {name}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_production_semantics_in_every_cluster(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    for service in SERVICES.values():
        data = by_name_prefix(docs, "ConfigMap", f"{service.name}-config")["data"]
        assert data["ENVIRONMENT"] == "production"
        assert data["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert data["KAFKA_SASL_USERNAME"] == f"portal-{service.name}"
        assert data["HTTP_PORT"] == str(service.port)
        assert data["TOPIC_PREFIX"] == ""
        if service.database is not None:
            assert data["MONGODB_DATABASE"] == service.database
        env = env_sources(deployment_container(docs, service.name))
        password = env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
        # The Secret the Strimzi User Operator writes for this service's KafkaUser.
        assert password == {"name": f"portal-{service.name}", "key": "password"}
        assert {u["metadata"]["name"] for u in objects(docs, "KafkaUser")} >= {password["name"]}


def by_name_prefix(docs: list[dict[str, Any]], kind: str, prefix: str) -> dict[str, Any]:
    """ConfigMaps carry a content hash suffix (so a config change rolls the pods)."""
    found = [d for d in objects(docs, kind) if d["metadata"]["name"].startswith(prefix + "-")]
    assert len(found) == 1, f"{kind} {prefix}-*: {len(found)}"
    return found[0]


# -- Kafka: topics and users ---------------------------------------------------------------


def test_checked_in_strimzi_resources_equal_a_fresh_render(kafka_resources: Any) -> None:
    for path, text in kafka_resources.rendered().items():
        assert Path(path).read_text() == text, f"{path} is stale: run {kafka_resources.__file__}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_portal_topic_and_dead_letter_topic_has_a_kafkatopic(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    """The portal's own topics only: upstream's are an opt-in component (test_kafka_topics)."""
    topics = {t["spec"]["topicName"]: t for t in objects(rendered[overlay], "KafkaTopic")}
    produced = {
        name for s in SERVICES.values() for name, t in TOPICS.items() if s.name in t.producers
    }
    assert set(topics) == produced
    for service in SERVICES.values():
        if service.consumer_group is not None:
            assert dead_letter_topic(ConsumerGroup(service.consumer_group)) in topics
    for name in produced:
        spec = TOPICS[name]
        topic = topics[name]
        assert topic["spec"]["partitions"] == spec.partitions
        config = topic["spec"]["config"]
        if overlay == "prod":
            assert topic["spec"]["replicas"] == 3
            assert config["min.insync.replicas"] == 2
        assert config["min.insync.replicas"] < topic["spec"]["replicas"] or overlay == "dev"
        if spec.compacted:
            assert config["cleanup.policy"] == "compact"
            assert "retention.ms" not in config
        else:
            assert config["cleanup.policy"] == "delete"
            assert config["retention.ms"] == spec.retention_ms


def test_compaction_only_where_the_key_is_the_aggregate() -> None:
    """Compaction keeps one record per key: with the bill group as key of invoices, it
    would keep one invoice per bill group."""
    from portal_contracts.registry import _SPECS

    for spec in TOPICS.values():
        if not spec.compacted:
            continue
        models = [e.model for e in _SPECS if e.topic == spec.name]
        assert models
        for model in models:
            assert next(iter(model.model_fields)) == spec.key, (spec.name, model.__name__)


def test_kafka_users_hold_only_what_their_service_needs(kafka_resources: Any) -> None:
    users = {u["metadata"]["name"]: u for u in kafka_resources_users(kafka_resources)}
    assert set(users) == {f"portal-{name}" for name in SERVICES}
    for service in SERVICES.values():
        user = users[f"portal-{service.name}"]
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        acls = user["spec"]["authorization"]["acls"]
        reads, writes, groups = set(), set(), set()
        for acl in acls:
            resource = acl["resource"]
            assert resource["name"] not in ("*", ""), "no wildcard resources"
            assert "All" not in acl["operations"]
            assert acl.get("type", "allow") == "allow"
            if resource["type"] == "group":
                assert acl["operations"] == ["Read"]
                groups.add((resource["name"], resource["patternType"]))
                continue
            assert resource["patternType"] == "literal"
            assert resource["type"] == "topic"
            if "Read" in acl["operations"]:
                reads.add(resource["name"])
            if "Write" in acl["operations"]:
                writes.add(resource["name"])
        group = ConsumerGroup(service.consumer_group) if service.consumer_group else None
        expected_reads = {
            n for n, s in TOPICS.items() if group is not None and group in s.consumers
        }
        expected_writes = {n for n, s in TOPICS.items() if service.name in s.producers}
        assert reads == expected_reads
        assert writes == expected_writes
        expected_groups = {(group.value, "literal")} if group is not None else set()
        if group == ConsumerGroup.BILLING_VIEW:
            # A rebuild's own group, `billing-view.<database>` (deploy/README.md).
            expected_groups.add((f"{group.value}.", "prefix"))
        assert groups == expected_groups
        if group is not None:
            assert dead_letter_topic(group) in writes


def kafka_resources_users(kafka_resources: Any) -> list[dict[str, Any]]:
    import yaml

    return [d for d in yaml.safe_load_all(Path(kafka_resources.USERS_FILE).read_text()) if d]


# -- Network and exposure -----------------------------------------------------------------


def policies_for(docs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """Policies that select the pods of `name` (or every pod)."""
    labels = by_name(docs, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
    selected = []
    for policy in objects(docs, "NetworkPolicy"):
        match = policy["spec"]["podSelector"].get("matchLabels", {})
        if all(labels.get(k) == v for k, v in match.items()):
            selected.append(policy)
    return selected


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_deny_by_default_and_only_the_gateway_is_reachable_from_outside(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    deny = by_name(docs, "NetworkPolicy", "default-deny-all")
    assert deny["spec"]["podSelector"] == {}
    assert sorted(deny["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in deny["spec"]
    assert "egress" not in deny["spec"]
    for service in SERVICES.values():
        outside = set()
        for policy in policies_for(docs, service.name):
            for rule in policy["spec"].get("ingress", []):
                for peer in rule.get("from", []):
                    namespace = peer.get("namespaceSelector", {}).get("matchLabels", {})
                    assert "ipBlock" not in peer, "no ingress by address"
                    if namespace:
                        outside.add(namespace["kubernetes.io/metadata.name"])
        expected = {"monitoring", "ingress-nginx"} if service.name == "gateway" else {"monitoring"}
        assert outside == expected, service.name
    # Only the gateway may call access and billing-view.
    for name in ("access", "billing-view"):
        policy = by_name(docs, "NetworkPolicy", name)
        peers = [p for rule in policy["spec"]["ingress"] for p in rule["from"]]
        assert peers == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}}]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_egress_is_limited_to_what_each_service_needs(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    for service in SERVICES.values():
        ports: set[int] = set()
        pods: set[str] = set()
        for policy in policies_for(docs, service.name):
            for rule in policy["spec"].get("egress", []):
                ports |= {p["port"] for p in rule["ports"]}
                for peer in rule["to"]:
                    name = peer.get("podSelector", {}).get("matchLabels", {})
                    if "app.kubernetes.io/name" in name:
                        pods.add(name["app.kubernetes.io/name"])
        expected = {53, 9093}
        if service.database is not None:
            expected.add(27017)
        if service.name in ("notifier", "gateway"):
            expected.add(443)  # SES / S3
        if service.name == "gateway":
            expected |= {8010, 8020}
        assert ports == expected, service.name
        assert pods == ({"access", "billing-view"} if service.name == "gateway" else set())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_is_exposed_and_only_over_tls(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    ingresses = objects(docs, "Ingress")
    assert [i["metadata"]["name"] for i in ingresses] == ["gateway"]
    spec = ingresses[0]["spec"]
    hosts = {rule["host"] for rule in spec["rules"]}
    assert hosts
    assert hosts <= {h for tls in spec["tls"] for h in tls["hosts"]}
    backends = {
        path["backend"]["service"]["name"]
        for rule in spec["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends == {"gateway"}
    assert all(s["spec"]["type"] == "ClusterIP" for s in objects(docs, "Service"))


def test_prod_gives_the_notifier_ses_through_workload_identity(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    account = by_name(rendered["prod"], "ServiceAccount", "notifier")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith(
        "arn:aws:iam::"
    )
    env = env_sources(deployment_container(rendered["prod"], "notifier"))
    assert "AWS_ACCESS_KEY_ID" not in env
    assert "AWS_SECRET_ACCESS_KEY" not in env


# -- Monitoring ------------------------------------------------------------------------------


def our_metric_names() -> set[str]:
    """Every metric the services register (importing their metric modules registers them)."""
    from prometheus_client import REGISTRY

    for module in (
        "portal_kit.consumer",
        "portal_kit.consumer_lag",
        "portal_kit.deadletter",
        "portal_kit.metrics",
        "portal_access.handlers",
        "portal_access.outbox.backlog",
        "portal_access.outbox.relay",
        "billing_view.metrics",
        "portal_gateway.metrics",
        "portal_notifier.metrics",
    ):
        importlib.import_module(module)
    # Sample names (`x_total`, `x_bucket`, ...) of every registered collector.
    return set(REGISTRY._names_to_collectors)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_alerts_use_metrics_the_services_export(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    (rule,) = objects(rendered[overlay], "PrometheusRule")
    exported = our_metric_names()
    # Every metric of ours starts with `portal_` (docs/CONVENTIONS.md, Metrics).
    ours = re.compile(r"\b(portal_[a-z_]+)\b")
    alerts = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    # Label values ("portal_gateway") are not metric names.
    bare = [re.sub(r'"[^"]*"', '""', alert["expr"]) for alert in alerts]
    used = {name for expr in bare for name in ours.findall(expr)}
    assert used, "the alerts watch the services' own metrics"
    assert used <= exported, f"alerts on metrics nobody exports: {sorted(used - exported)}"
    # The README's four: consumer lag, dead-letter rate, SES failures, 5xx rate.
    expressions = " ".join(alert["expr"] for alert in alerts)
    for needle in (
        "portal_consumer_lag",
        "portal_dead_lettered_total",
        "portal_notifier_emails_failed_total",
        'status_code=~"5.."',
        "portal_http_requests_total",
    ):
        assert needle in expressions
    (monitor,) = objects(rendered[overlay], "PodMonitor")
    assert monitor["spec"]["podMetricsEndpoints"][0]["path"] == "/metrics"
    for service in SERVICES.values():
        labels = by_name(rendered[overlay], "Deployment", service.name)["spec"]["template"]
        pod_labels = labels["metadata"]["labels"]
        selector = monitor["spec"]["selector"]["matchLabels"]
        assert all(pod_labels.get(k) == v for k, v in selector.items()), service.name
