"""RBAC: the chart and kustomize grant exactly what the controller code uses, nothing more.

The reference is `$BLO_BIN rbac-rules` when BLO_BIN points at the built binary, otherwise the
checked-in copy fixtures/rbac-rules.json.
"""

from __future__ import annotations

import json

import pytest

from conftest import (
    FIXTURES,
    NAMESPACE,
    blo_bin,
    by_kind,
    kustomize_objects,
    one,
    render_objects,
    require_blo_bin,
    run_blo,
)

ALLOWED_CLUSTER_WIDE = {
    "bedrocklogging.io": {
        "bedrockloggingpolicies",
        "bedrockloggingpolicies/status",
        "bedrockloggingpolicies/finalizers",
    },
    "events.k8s.io": {"events"},
}
FORBIDDEN_RESOURCES = {"secrets", "configmaps", "pods/exec", "serviceaccounts/token", "*"}


def fixture_rules() -> dict:
    return json.loads((FIXTURES / "rbac-rules.json").read_text())


def reference_rules() -> tuple[str, dict]:
    if blo_bin():
        return "`$BLO_BIN rbac-rules`", json.loads(run_blo("rbac-rules"))
    return "fixtures/rbac-rules.json", fixture_rules()


def triples(rules: list[dict]) -> set[tuple[str, str, str]]:
    """Flatten PolicyRules to (apiGroup, resource, verb) so rule grouping does not matter."""
    out = set()
    for rule in rules:
        assert not rule.get("nonResourceURLs"), rule
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                for verb in rule.get("verbs", []):
                    out.add((group, resource, verb))
    return out


@pytest.fixture(params=["helm", "kustomize"])
def objects(request, chart):
    if request.param == "helm":
        return render_objects(chart)
    return kustomize_objects("default")


def test_cluster_role_matches_controller_permissions(objects):
    source, ref = reference_rules()
    cluster_role = one(objects, "ClusterRole")
    assert triples(cluster_role["rules"]) == triples(ref["clusterRules"]), (
        f"ClusterRole differs from {source}"
    )


def test_role_matches_controller_permissions(objects):
    source, ref = reference_rules()
    role = one(objects, "Role")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert triples(role["rules"]) == triples(ref["namespacedRules"]), f"Role differs from {source}"


def test_cluster_role_grants_nothing_else_cluster_wide(objects):
    cluster_role = one(objects, "ClusterRole")
    assert "aggregationRule" not in cluster_role
    for group, resource, verb in triples(cluster_role["rules"]):
        assert "*" not in (group, resource, verb), "no wildcards"
        assert resource not in FORBIDDEN_RESOURCES
        assert group in ALLOWED_CLUSTER_WIDE, f"cluster-wide access to API group {group!r}"
        assert resource in ALLOWED_CLUSTER_WIDE[group], f"cluster-wide access to {group}/{resource}"
        assert verb not in ("delete", "deletecollection", "escalate", "bind", "impersonate")
    for rule in cluster_role["rules"]:
        assert not rule.get("resourceNames")


def test_bindings_point_at_the_service_account(objects):
    sa = one(objects, "ServiceAccount")
    subject = {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": NAMESPACE}
    crb = one(objects, "ClusterRoleBinding")
    assert crb["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": one(objects, "ClusterRole")["metadata"]["name"],
    }
    assert crb["subjects"] == [subject]
    rb = one(objects, "RoleBinding")
    assert rb["metadata"]["namespace"] == NAMESPACE
    assert rb["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": one(objects, "Role")["metadata"]["name"],
    }
    assert rb["subjects"] == [subject]
    deploy = one(objects, "Deployment")
    assert deploy["spec"]["template"]["spec"]["serviceAccountName"] == sa["metadata"]["name"]
    assert len(by_kind(objects, "ClusterRoleBinding")) == 1
    assert len(by_kind(objects, "RoleBinding")) == 1


def test_fixture_is_well_formed():
    rules = fixture_rules()
    assert set(rules) == {"clusterRules", "namespacedRules"}
    assert triples(rules["namespacedRules"]) == {
        ("coordination.k8s.io", "leases", v) for v in ("get", "create", "update")
    }


def test_fixture_matches_binary():
    require_blo_bin("comparing fixtures/rbac-rules.json with `rbac-rules`")
    ref = json.loads(run_blo("rbac-rules"))
    fixture = fixture_rules()
    for key in ("clusterRules", "namespacedRules"):
        assert triples(ref[key]) == triples(fixture[key]), (
            f"fixtures/rbac-rules.json {key} is stale: regenerate it with `$BLO_BIN rbac-rules`"
        )
