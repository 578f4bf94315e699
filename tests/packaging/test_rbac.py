"""RBAC: the chart and kustomize grant exactly what the controller code uses, nothing more.

The static reference is fixtures/rbac-rules.json (the rules without compliance reports, i.e.
`--reports=none`) plus fixtures/rbac-report-rules.json (what each `--reports` mode adds). When
BLO_BIN points at the built binary, its `rbac-rules` output is compared too: in full once the
binary knows the report rules (its output names openreports.io / wgpolicyk8s.io), and without
the report rules before that (a binary older than the reports feature).
"""

from __future__ import annotations

import functools
import json
import subprocess

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

REPORT_MODES = ["auto", "openreports", "policyreport", "none"]
REPORT_VERBS = {"get", "list", "watch", "create", "patch", "update"}
REPORT_GROUPS = {"openreports.io", "wgpolicyk8s.io", "apiextensions.k8s.io"}

ALLOWED_CLUSTER_WIDE = {
    "bedrocklogging.io": {
        "bedrockloggingpolicies",
        "bedrockloggingpolicies/status",
        "bedrockloggingpolicies/finalizers",
    },
    "events.k8s.io": {"events"},
    "openreports.io": {"clusterreports"},
    "wgpolicyk8s.io": {"clusterpolicyreports"},
    "apiextensions.k8s.io": {"customresourcedefinitions"},
}
FORBIDDEN_RESOURCES = {"secrets", "configmaps", "pods/exec", "serviceaccounts/token", "*"}


def fixture_rules() -> dict:
    return json.loads((FIXTURES / "rbac-rules.json").read_text())


def report_rules() -> dict:
    rules = json.loads((FIXTURES / "rbac-report-rules.json").read_text())
    rules.pop("_comment", None)
    return rules


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


def expected_cluster_triples(mode: str) -> set[tuple[str, str, str]]:
    return triples(fixture_rules()["clusterRules"]) | triples(report_rules()[mode])


@functools.lru_cache(maxsize=None)
def binary_rules(mode: str | None = None) -> dict | None:
    """`$BLO_BIN rbac-rules [--reports MODE]`; None when the binary does not take the flag."""
    if mode is None:
        return json.loads(run_blo("rbac-rules"))
    proc = subprocess.run([blo_bin(), "rbac-rules", f"--reports={mode}"],
                          capture_output=True, text=True, timeout=60)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def binary_knows_reports() -> bool:
    return any(g in REPORT_GROUPS for g, _, _ in triples(binary_rules()["clusterRules"]))


def without_reports(t: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    return {x for x in t if x[0] not in REPORT_GROUPS}


@pytest.fixture(params=["helm", "kustomize"])
def objects(request, chart):
    if request.param == "helm":
        return render_objects(chart)
    return kustomize_objects("default")


def test_cluster_role_matches_controller_permissions(objects):
    """Default install (reports auto): the static reference, and the binary when BLO_BIN is set."""
    cluster_role = one(objects, "ClusterRole")
    got = triples(cluster_role["rules"])
    assert got == expected_cluster_triples("auto"), (
        "ClusterRole differs from fixtures/rbac-rules.json + rbac-report-rules.json[auto]"
    )
    if blo_bin():
        ref = triples(binary_rules()["clusterRules"])
        if binary_knows_reports():
            assert got == ref, "ClusterRole differs from `$BLO_BIN rbac-rules`"
        else:  # a binary from before the reports feature: compare what it knows
            assert without_reports(got) == ref, "ClusterRole differs from `$BLO_BIN rbac-rules`"


@pytest.mark.parametrize("mode", REPORT_MODES)
def test_chart_report_rules_follow_the_reports_value(chart, mode):
    objects = render_objects(chart, {"reports": mode})
    got = triples(one(objects, "ClusterRole")["rules"])
    assert got == expected_cluster_triples(mode)
    args = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert f"--reports={mode}" in args
    if blo_bin():
        per_mode = binary_rules(mode)
        if per_mode is not None and binary_knows_reports():
            assert got == triples(per_mode["clusterRules"]), f"differs from `rbac-rules --reports={mode}`"


def test_role_matches_controller_permissions(objects):
    role = one(objects, "Role")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert triples(role["rules"]) == triples(fixture_rules()["namespacedRules"])
    if blo_bin():
        assert triples(role["rules"]) == triples(binary_rules()["namespacedRules"]), (
            "Role differs from `$BLO_BIN rbac-rules`"
        )


@pytest.mark.parametrize("mode", REPORT_MODES)
def test_cluster_role_grants_nothing_else_cluster_wide(chart, mode):
    for objects in (render_objects(chart, {"reports": mode}), kustomize_objects("default")):
        cluster_role = one(objects, "ClusterRole")
        assert "aggregationRule" not in cluster_role
        for group, resource, verb in triples(cluster_role["rules"]):
            assert "*" not in (group, resource, verb), "no wildcards"
            assert resource not in FORBIDDEN_RESOURCES
            assert group in ALLOWED_CLUSTER_WIDE, f"cluster-wide access to API group {group!r}"
            assert resource in ALLOWED_CLUSTER_WIDE[group], f"cluster-wide access to {group}/{resource}"
            assert verb not in ("delete", "deletecollection", "escalate", "bind", "impersonate")
            if group == "apiextensions.k8s.io":
                assert verb in ("get", "list"), "CRDs are only read (to detect the report APIs)"
            if group in ("openreports.io", "wgpolicyk8s.io"):
                assert verb in REPORT_VERBS
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
    assert without_reports(triples(rules["clusterRules"])) == triples(rules["clusterRules"]), (
        "rbac-rules.json is the set without reports: report rules belong in rbac-report-rules.json"
    )
    reports = report_rules()
    assert set(reports) == set(REPORT_MODES)
    t = {mode: triples(r) for mode, r in reports.items()}
    assert t["none"] == set()
    assert t["openreports"] == {("openreports.io", "clusterreports", v) for v in REPORT_VERBS}
    assert t["policyreport"] == {("wgpolicyk8s.io", "clusterpolicyreports", v) for v in REPORT_VERBS}
    assert t["auto"] == t["openreports"] | t["policyreport"] | {
        ("apiextensions.k8s.io", "customresourcedefinitions", v) for v in ("get", "list")
    }


def test_fixture_matches_binary():
    require_blo_bin("comparing fixtures/rbac-rules.json with `rbac-rules`")
    ref = binary_rules()
    fixture = fixture_rules()
    assert triples(ref["namespacedRules"]) == triples(fixture["namespacedRules"]), (
        "fixtures/rbac-rules.json namespacedRules is stale: regenerate it with `$BLO_BIN rbac-rules`"
    )
    got = triples(ref["clusterRules"])
    if binary_knows_reports():
        assert got == expected_cluster_triples("auto"), (
            "`rbac-rules` differs from fixtures/rbac-rules.json + rbac-report-rules.json[auto]"
        )
    else:
        assert got == triples(fixture["clusterRules"]), (
            "fixtures/rbac-rules.json clusterRules is stale: regenerate it with `$BLO_BIN rbac-rules`"
        )
