"""kustomize: config/default and the ha / emulator overlays render and stay consistent."""

from __future__ import annotations

import pytest
import yaml

from conftest import (
    CHART_DIR,
    CLUSTER_SCOPED_KINDS,
    CONFIG_DIR,
    KUSTOMIZE_DIRS,
    NAMESPACE,
    assert_hardened,
    assert_probes_and_env,
    by_kind,
    container,
    env_of,
    kustomize_objects,
    one,
    render_objects,
)


def test_default_references_crd_rbac_manager():
    kustomization = yaml.safe_load((CONFIG_DIR / "default" / "kustomization.yaml").read_text())
    assert kustomization["namespace"] == NAMESPACE
    for base in ("../crd", "../rbac", "../manager"):
        assert base in kustomization["resources"]
    crd = yaml.safe_load((CONFIG_DIR / "crd" / "kustomization.yaml").read_text())
    assert crd["resources"] == ["bedrockloggingpolicies.yaml"]


@pytest.mark.parametrize("overlay", KUSTOMIZE_DIRS)
def test_overlay_renders_complete_install(overlay):
    objects = kustomize_objects(overlay)
    kinds = {o["kind"] for o in objects}
    assert {
        "Namespace",
        "CustomResourceDefinition",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Deployment",
        "Service",
    } <= kinds
    assert one(objects, "Namespace")["metadata"]["name"] == NAMESPACE
    assert one(objects, "CustomResourceDefinition")["metadata"]["name"] == "bedrockloggingpolicies.bedrocklogging.io"
    for o in objects:
        if o["kind"] in CLUSTER_SCOPED_KINDS:
            assert "namespace" not in o["metadata"], o["kind"]
        else:
            assert o["metadata"]["namespace"] == NAMESPACE, o["kind"]
    for binding in by_kind(objects, "ClusterRoleBinding") + by_kind(objects, "RoleBinding"):
        for subject in binding["subjects"]:
            assert subject["namespace"] == NAMESPACE
    deploy = one(objects, "Deployment")
    assert_hardened(deploy)
    assert_probes_and_env(deploy)
    svc = one(objects, "Service")
    assert svc["spec"]["selector"].items() <= deploy["spec"]["template"]["metadata"]["labels"].items()


def test_default_is_single_replica_without_leader_election():
    deploy = one(kustomize_objects("default"), "Deployment")
    assert deploy["spec"]["replicas"] == 1
    c = container(deploy)
    assert "--leader-elect" not in c["args"]
    assert "AWS_ENDPOINT_URL" not in env_of(c)


def test_default_image_tag_is_the_chart_app_version():
    app_version = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())["appVersion"]
    c = container(one(kustomize_objects("default"), "Deployment"))
    assert c["image"] == f"ghcr.io/bedrock-logging-operator/bedrock-logging-operator:{app_version}"


def test_ha_overlay():
    objects = kustomize_objects("overlays/ha")
    deploy = one(objects, "Deployment")
    assert deploy["spec"]["replicas"] == 2
    args = container(deploy)["args"]
    assert "--leader-elect" in args
    pdb = one(objects, "PodDisruptionBudget")
    assert pdb["metadata"]["namespace"] == NAMESPACE
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= deploy["spec"]["template"]["metadata"]["labels"].items()
    # the leader-election Role exists in the namespace the lease lives in (POD_NAMESPACE)
    assert one(objects, "Role")["metadata"]["namespace"] == NAMESPACE


def test_emulator_overlay():
    c = container(one(kustomize_objects("overlays/emulator"), "Deployment"))
    env = env_of(c)
    assert env["AWS_ENDPOINT_URL"]["value"].startswith("http://")
    assert env["AWS_REGION"]["value"]
    assert "--leader-elect" not in c["args"]


def test_kustomize_and_helm_deployments_agree(chart):
    """The two packagings run the same container the same way."""
    helm_deploy = one(render_objects(chart), "Deployment")
    kust_deploy = one(kustomize_objects("default"), "Deployment")
    h, k = container(helm_deploy), container(kust_deploy)
    for field in ("image", "command", "args", "env", "ports", "resources", "securityContext", "volumeMounts"):
        assert h[field] == k[field], field
    for field in ("livenessProbe", "readinessProbe"):
        assert h[field]["httpGet"] == k[field]["httpGet"], field
    hp, kp = helm_deploy["spec"]["template"]["spec"], kust_deploy["spec"]["template"]["spec"]
    for field in ("securityContext", "volumes", "automountServiceAccountToken", "enableServiceLinks"):
        assert hp[field] == kp[field], field
    assert helm_deploy["spec"]["selector"] == kust_deploy["spec"]["selector"]
    assert helm_deploy["spec"]["strategy"] == kust_deploy["spec"]["strategy"]
