"""Every combination of the install options, rendered by Helm's engine and validated.

dashboards.enabled × prometheusRule.enabled × reports (4 modes) × replica settings
(default, replicaCount 1 / 3, the `replicas` alias, both agreeing): each render is checked
against the Kubernetes 1.32 schemas (strict), the PrometheusRule against its CRD
(fixtures/thirdparty-crds), and for the invariants each option promises.
"""

from __future__ import annotations

import itertools
import json

import helm_python as helm
import pytest

from conftest import (
    CHART_DIR,
    NAMESPACE,
    by_kind,
    container,
    one,
    render_objects,
    validate_manifest,
)
from test_rbac import expected_cluster_triples, triples

REPORTS = ["auto", "openreports", "policyreport", "none"]
REPLICAS = {
    "default": ({}, 1),
    "replicaCount-1": ({"replicaCount": 1}, 1),
    "replicaCount-3": ({"replicaCount": 3}, 3),
    "replicas-alias-3": ({"replicas": 3}, 3),
    "both-3": ({"replicaCount": 3, "replicas": 3}, 3),
}
COMBOS = list(itertools.product([False, True], [False, True], REPORTS, REPLICAS))


def combo_id(c) -> str:
    dash, rule, reports, replicas = c
    return f"dash-{'on' if dash else 'off'}-rule-{'on' if rule else 'off'}-reports-{reports}-{replicas}"


@pytest.mark.parametrize("combo", COMBOS, ids=[combo_id(c) for c in COMBOS])
def test_combination_renders_valid_manifests(chart, combo):
    dash, rule, reports, replica_key = combo
    replica_values, replicas = REPLICAS[replica_key]
    values = {
        "dashboards": {"enabled": dash},
        "prometheusRule": {"enabled": rule},
        "reports": reports,
        **replica_values,
    }
    chart.validate_schema(values)
    objects = render_objects(chart, values)
    for obj in objects:
        validate_manifest(obj)

    kinds = sorted(o["kind"] for o in objects)
    expected = ["ClusterRole", "ClusterRoleBinding", "Deployment", "Role", "RoleBinding", "Service", "ServiceAccount"]
    expected += ["ConfigMap"] * dash + ["PrometheusRule"] * rule + ["PodDisruptionBudget"] * (replicas > 1)
    assert kinds == sorted(expected)

    deploy = one(objects, "Deployment")
    assert deploy["spec"]["replicas"] == replicas
    args = container(deploy)["args"]
    assert f"--reports={reports}" in args
    assert [a for a in args if a.startswith("--reports")] == [f"--reports={reports}"]
    assert ("--leader-elect" in args) == (replicas > 1)
    assert triples(one(objects, "ClusterRole")["rules"]) == expected_cluster_triples(reports)
    if dash:
        cm = one(objects, "ConfigMap")
        assert cm["metadata"]["namespace"] == NAMESPACE
        assert json.loads(cm["data"]["bedrock-logging.json"])["uid"] == "bedrock-logging-operator"
    if rule:
        assert one(objects, "PrometheusRule")["metadata"]["namespace"] == NAMESPACE
    if replicas > 1:
        pdb = one(objects, "PodDisruptionBudget")
        assert pdb["spec"]["selector"]["matchLabels"].items() <= deploy["spec"]["template"]["metadata"]["labels"].items()
    else:
        assert not by_kind(objects, "PodDisruptionBudget")


@pytest.mark.parametrize("values", [
    {"replicaCount": 3, "replicas": 2},
    {"replicaCount": 2, "replicas": 5},
])
def test_replica_count_and_alias_must_not_disagree(chart, values):
    with pytest.raises(helm.HelmError, match=r"replicaCount \(\d\) and its deprecated alias replicas \(\d\) disagree"):
        render_objects(chart, values)


def test_alias_wins_over_the_default_replica_count(chart):
    """replicaCount left at its default (1) cannot be told from an explicit 1: the alias is used."""
    deploy = one(render_objects(chart, {"replicaCount": 1, "replicas": 2}), "Deployment")
    assert deploy["spec"]["replicas"] == 2


def test_zero_replicas(chart):
    for values in ({"replicaCount": 0}, {"replicas": 0}):
        objects = render_objects(chart, values)
        assert one(objects, "Deployment")["spec"]["replicas"] == 0
        assert not by_kind(objects, "PodDisruptionBudget")


@pytest.mark.parametrize("values", [
    {"dashboards": {"enabled": True}, "prometheusRule": {"enabled": True}, "reports": "none", "replicaCount": 3},
    {"dashboards": {"enabled": True}, "prometheusRule": {"enabled": True}, "replicas": 2},
], ids=["replicaCount", "alias"])
def test_helm_lint_strict_with_every_opt_in(values):
    report = helm.lint(CHART_DIR, values, strict=True, namespace=NAMESPACE, kube_version="v1.32.0")
    assert not report["errors"], report["errors"]
    assert not [m for m in report["messages"] if m["severity"] >= 2]
