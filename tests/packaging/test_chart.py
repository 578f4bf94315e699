"""Helm chart: lint, rendering with default / HA / full values, values schema."""

from __future__ import annotations

import helm_python as helm
import pytest
import yaml

from conftest import (
    CHART_DIR,
    FULL_VALUES,
    NAMESPACE,
    RELEASE,
    assert_hardened,
    assert_probes_and_env,
    by_kind,
    container,
    env_of,
    one,
    render_chart,
    render_objects,
)

IMAGE_REPO = "ghcr.io/bedrock-logging-operator/bedrock-logging-operator"


def chart_meta() -> dict:
    return yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())


def test_chart_metadata():
    meta = chart_meta()
    assert meta["apiVersion"] == "v2"
    assert meta["name"] == "bedrock-logging-operator"
    assert meta["type"] == "application"
    assert isinstance(meta["appVersion"], str) and meta["appVersion"]


@pytest.mark.parametrize(
    "values",
    [None, {"replicaCount": 2}, {"replicas": 2}, FULL_VALUES,
     {"dashboards": {"enabled": True}, "prometheusRule": {"enabled": True}, "reports": "none"}],
    ids=["default", "ha", "ha-alias", "full", "observability"],
)
def test_helm_lint_strict_has_no_warnings(values):
    report = helm.lint(CHART_DIR, values, strict=True, namespace=NAMESPACE, kube_version="v1.32.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not report["errors"], report["errors"]
    assert not problems, problems


def test_default_render_objects(chart):
    objects = render_objects(chart)
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == sorted(
        ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "Service"]
    )
    for o in objects:
        if o["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            assert o["metadata"]["namespace"] == NAMESPACE, o["kind"]
        labels = o["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "bedrock-logging-operator"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"


def test_chart_carries_the_crd(chart):
    crds = chart.crds
    assert [c["filename"].split("/")[-1] for c in crds] == ["bedrockloggingpolicies.yaml"]


def test_default_deployment(chart):
    objects = render_objects(chart)
    deploy = one(objects, "Deployment")
    assert_hardened(deploy)
    assert_probes_and_env(deploy)
    spec = deploy["spec"]
    assert spec["replicas"] == 1
    c = container(deploy)
    assert c["image"] == f"{IMAGE_REPO}:{chart_meta()['appVersion']}"
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["command"] == ["/bedrock-logging-operator"]
    assert c["args"] == [
        "run",
        "--http-addr=0.0.0.0:8080",
        "--log-level=info",
        "--log-format=json",
        "--concurrency=4",
        "--reports=auto",
    ]
    assert "--leader-elect" not in c["args"]
    env = env_of(c)
    assert "AWS_ENDPOINT_URL" not in env and "AWS_REGION" not in env
    # read-only root filesystem: a writable /tmp is provided
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["template"]["spec"]["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    # selector labels are a subset of the pod labels and stable (no version in them)
    selector = spec["selector"]["matchLabels"]
    pod_labels = spec["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert set(selector) == {"app.kubernetes.io/name", "app.kubernetes.io/instance"}
    assert spec["template"]["spec"]["serviceAccountName"] == one(objects, "ServiceAccount")["metadata"]["name"]
    # no PDB, ServiceMonitor, dashboard or PrometheusRule by default
    assert not by_kind(objects, "PodDisruptionBudget")
    assert not by_kind(objects, "ServiceMonitor")
    assert not by_kind(objects, "ConfigMap")
    assert not by_kind(objects, "PrometheusRule")


def test_metrics_service_targets_the_pods(chart):
    objects = render_objects(chart)
    svc = one(objects, "Service")
    deploy = one(objects, "Deployment")
    assert svc["spec"]["selector"].items() <= deploy["spec"]["template"]["metadata"]["labels"].items()
    (port,) = svc["spec"]["ports"]
    assert port == {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}


@pytest.mark.parametrize("values", [{"replicaCount": 2}, {"replicas": 2}, {"replicaCount": 2, "replicas": 2}],
                         ids=["replicaCount", "replicas-alias", "both"])
def test_ha_values_enable_leader_election_and_pdb(chart, values):
    objects = render_objects(chart, values)
    deploy = one(objects, "Deployment")
    assert deploy["spec"]["replicas"] == 2
    args = container(deploy)["args"]
    assert "--leader-elect" in args
    assert f"--lease-name={RELEASE}" in args
    assert f"--lease-namespace={NAMESPACE}" in args
    pdb = one(objects, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert "maxUnavailable" not in pdb["spec"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= deploy["spec"]["template"]["metadata"]["labels"].items()
    # no surge-less rollout deadlock: a new pod comes up before an old one goes
    assert deploy["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}


def test_leader_election_can_be_forced_with_one_replica(chart):
    objects = render_objects(chart, {"leaderElection": {"enabled": True, "leaseName": "shard-a"}})
    args = container(one(objects, "Deployment"))["args"]
    assert "--leader-elect" in args and "--lease-name=shard-a" in args
    assert not by_kind(objects, "PodDisruptionBudget"), "a PDB on one replica only blocks drains"


def test_pdb_can_be_disabled(chart):
    objects = render_objects(chart, {"replicaCount": 2, "podDisruptionBudget": {"enabled": False}})
    assert not by_kind(objects, "PodDisruptionBudget")


def test_lease_name_is_unique_per_release(chart):
    a = container(one(render_objects(chart, {"replicaCount": 2}, name="shard-a"), "Deployment"))["args"]
    b = container(one(render_objects(chart, {"replicaCount": 2}, name="shard-b"), "Deployment"))["args"]
    lease = lambda args: [x for x in args if x.startswith("--lease-name=")]  # noqa: E731
    assert lease(a) != lease(b)


def test_full_values_render_every_option(chart):
    objects = render_objects(chart, FULL_VALUES)
    deploy = one(objects, "Deployment")
    assert_hardened(deploy)
    assert_probes_and_env(deploy)
    pod = deploy["spec"]["template"]
    c = container(deploy)
    assert c["image"] == f"{IMAGE_REPO}@sha256:{'a' * 64}"
    assert c["imagePullPolicy"] == "Always"
    args = c["args"]
    for expected in [
        "--log-level=debug",
        "--log-format=text",
        "--concurrency=16",
        "--selector=bedrocklogging.io/shard in (a,b)",
        "--leader-elect",
        "--lease-name=blo-shard-a",
        "--reports=openreports",
        "--some-flag=1",
    ]:
        assert expected in args
    env = env_of(c)
    assert env["AWS_REGION"]["value"] == "eu-west-1"
    assert env["AWS_ENDPOINT_URL"]["value"] == "http://moto.test.svc:5000"
    assert env["HTTPS_PROXY"]["value"] == "http://proxy:3128"
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {"name": "aws", "key": "id"}
    assert pod["metadata"]["annotations"] == {"example.com/scrape": "true"}
    assert pod["metadata"]["labels"]["team"] == "platform"
    spec = pod["spec"]
    assert spec["imagePullSecrets"] == [{"name": "ghcr"}]
    assert spec["priorityClassName"] == "system-cluster-critical"
    assert spec["nodeSelector"] == FULL_VALUES["nodeSelector"]
    assert spec["tolerations"] == FULL_VALUES["tolerations"]
    assert spec["affinity"] == FULL_VALUES["affinity"]
    assert spec["topologySpreadConstraints"] == FULL_VALUES["topologySpreadConstraints"]
    sa = one(objects, "ServiceAccount")
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/blo"}
    assert sa["metadata"]["labels"]["team"] == "platform"
    svc = one(objects, "Service")
    assert svc["spec"]["ports"][0]["port"] == 9090
    assert svc["metadata"]["annotations"] == {"example.com/a": "b"}
    pdb = one(objects, "PodDisruptionBudget")
    assert pdb["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": deploy["spec"]["selector"]["matchLabels"]},
    }
    sm = one(objects, "ServiceMonitor")
    assert sm["metadata"]["labels"]["release"] == "prometheus"
    assert sm["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    (endpoint,) = sm["spec"]["endpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
    assert endpoint["interval"] == "15s" and endpoint["scrapeTimeout"] == "5s"
    assert endpoint["relabelings"] == FULL_VALUES["metrics"]["serviceMonitor"]["relabelings"]
    assert deploy["spec"]["replicas"] == 3
    cm = one(objects, "ConfigMap")
    assert cm["metadata"]["namespace"] == "monitoring"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1" and cm["metadata"]["labels"]["team"] == "platform"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "Compliance"}
    rule = one(objects, "PrometheusRule")
    assert rule["metadata"]["namespace"] == "monitoring"
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    assert rule["metadata"]["annotations"] == {"example.com/owner": "platform"}
    (group,) = rule["spec"]["groups"]
    assert group["interval"] == "1m"
    alerts = {r["alert"]: r for r in group["rules"]}
    assert set(alerts) == {"BedrockLoggingNonCompliant", "BedrockLoggingTamperDetected", "BedrockLoggingReconcileErrors"}
    assert alerts["BedrockLoggingNonCompliant"]["for"] == "30m"
    assert alerts["BedrockLoggingNonCompliant"]["labels"] == {"severity": "critical", "team": "platform"}
    assert alerts["BedrockLoggingReconcileErrors"]["for"] == "1h"
    assert alerts["BedrockLoggingTamperDetected"]["annotations"]["runbook_url"] == (
        "https://runbooks.example.com/bedrock-logging#bedrockloggingtamperdetected"
    )


def test_image_tag_override(chart):
    c = container(one(render_objects(chart, {"image": {"tag": "v9.9.9-rc.1"}}), "Deployment"))
    assert c["image"] == f"{IMAGE_REPO}:v9.9.9-rc.1"


def test_existing_service_account(chart):
    objects = render_objects(chart, {"serviceAccount": {"create": False, "name": "preexisting"}})
    assert not by_kind(objects, "ServiceAccount")
    assert one(objects, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "preexisting"
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        assert one(objects, kind)["subjects"] == [
            {"kind": "ServiceAccount", "name": "preexisting", "namespace": NAMESPACE}
        ]


def test_existing_service_account_requires_a_name(chart):
    with pytest.raises(helm.HelmError, match="serviceAccount.name is required"):
        render_chart(chart, {"serviceAccount": {"create": False}})


def test_rbac_can_be_disabled(chart):
    objects = render_objects(chart, {"rbac": {"create": False}})
    for kind in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
        assert not by_kind(objects, kind)


def test_fullname_override_and_long_release_names(chart):
    objects = render_objects(chart, {"fullnameOverride": "blo"})
    assert one(objects, "Deployment")["metadata"]["name"] == "blo"
    long_name = "a" * 53  # Helm's maximum release name length
    for o in render_objects(chart, name=long_name):
        if o["kind"] in ("Service", "Deployment", "ServiceAccount"):
            assert len(o["metadata"]["name"]) <= 63, o["metadata"]["name"]
        for value in o["metadata"]["labels"].values():
            assert len(value) <= 63, value


def test_notes_render(chart):
    notes = render_chart(chart)["bedrock-logging-operator/templates/NOTES.txt"]
    assert "kubectl wait blp/<name> --for=condition=Ready" in notes
    assert "eks.amazonaws.com/role-arn" in notes  # hint shown while no IRSA annotation is set
    irsa = render_chart(chart, {"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:x"}}})
    assert "no IRSA annotation" not in irsa["bedrock-logging-operator/templates/NOTES.txt"]
    ha = render_chart(chart, {"replicaCount": 2})["bedrock-logging-operator/templates/NOTES.txt"]
    assert "leader election" in ha and "(2 replica(s)" in ha
    assert "Grafana dashboard" not in notes and "PrometheusRule" not in notes
    assert "kubectl get clusterreports" in notes
    opt_in = render_chart(chart, {"dashboards": {"enabled": True}, "prometheusRule": {"enabled": True}, "reports": "none"})
    opt_in = opt_in["bedrock-logging-operator/templates/NOTES.txt"]
    assert f"ConfigMap {NAMESPACE}/{RELEASE}-dashboard" in opt_in
    assert f"PrometheusRule {NAMESPACE}/{RELEASE}" in opt_in
    assert "clusterreports" not in opt_in


@pytest.mark.parametrize(
    "values, message",
    [
        ({"bogus": 1}, "additional properties 'bogus' not allowed"),
        ({"image": {"tagg": "x"}}, "additional properties 'tagg' not allowed"),
        ({"logFormat": "yaml"}, "/logFormat"),
        ({"logLevel": "verbose"}, "/logLevel"),
        ({"concurrency": 0}, "/concurrency"),
        ({"concurrency": "4"}, "/concurrency"),
        ({"replicas": -1}, "/replicas"),
        ({"replicaCount": -1}, "/replicaCount"),
        ({"replicaCount": "3"}, "/replicaCount"),
        ({"reports": "both"}, "/reports"),
        ({"dashboards": {"enabeld": True}}, "additional properties 'enabeld' not allowed"),
        ({"dashboards": {"labels": {"grafana_dashboard": 1}}}, "/dashboards/labels/grafana_dashboard"),
        ({"dashboards": {"namespace": "Monitoring"}}, "/dashboards/namespace"),
        ({"prometheusRule": {"alerts": {"nonCompliant": {"for": "15 minutes"}}}},
         "/prometheusRule/alerts/nonCompliant/for"),
        ({"prometheusRule": {"alerts": {"absent": {"enabled": False}}}}, "additional properties 'absent' not allowed"),
        ({"prometheusRule": {"runbookBaseUrl": "docs/alerts.md"}}, "/prometheusRule/runbookBaseUrl"),
        ({"prometheusRule": {"interval": "1 minute"}}, "/prometheusRule/interval"),
        ({"prometheusRule": {"additionalLabels": {"release": True}}}, "/prometheusRule/additionalLabels/release"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"image": {"digest": "latest"}}, "/image/digest"),
        ({"aws": {"region": "US_EAST_1"}}, "/aws/region"),
        ({"aws": {"endpointUrl": "localhost:4566"}}, "/aws/endpointUrl"),
        ({"aws": {"profile": "x"}}, "additional properties 'profile' not allowed"),
        ({"extraArgs": [1]}, "/extraArgs/0"),
        ({"extraEnv": [{"value": "x"}]}, "/extraEnv/0"),
        ({"serviceAccount": {"annotations": {"a": 1}}}, "/serviceAccount/annotations/a"),
        ({"metrics": {"serviceMonitor": {"interval": "often"}}}, "/metrics/serviceMonitor/interval"),
        ({"podDisruptionBudget": {"minAvailable": "half"}}, "/podDisruptionBudget/minAvailable"),
    ],
)
def test_values_schema_rejects(chart, values, message):
    with pytest.raises(helm.HelmValuesError, match=message.replace("(", r"\(")):
        render_chart(chart, values)


def test_values_schema_is_strict_at_top_level(chart):
    schema = chart.schema
    assert schema["additionalProperties"] is False
    # every default value is declared in the schema (and nothing declared is left undocumented)
    defaults = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert set(defaults) <= set(schema["properties"])
    assert set(schema["properties"]) - set(defaults) <= {"global"}
    chart.validate_schema(defaults)
    chart.validate_schema(FULL_VALUES)


def test_readme_documents_every_top_level_value():
    readme = (CHART_DIR / "README.md").read_text()
    defaults = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    missing = [k for k in defaults if f"`{k}" not in readme]
    assert not missing, f"values not documented in the chart README: {missing}"
    assert "eks.amazonaws.com/role-arn" in readme and "Pod Identity" in readme
    values_text = (CHART_DIR / "values.yaml").read_text()
    assert "eks.amazonaws.com/role-arn" in values_text and "Pod Identity" in values_text
