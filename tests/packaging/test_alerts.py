"""Alerts: docs/alerts/bedrock-logging.rules.yaml, the chart's PrometheusRule and docs/alerts.md.

Prometheus' own tools judge the rules: `promtool check rules` (syntax, templates) and `promtool
test rules` (tests/packaging/promtool/alerts_test.yaml: input series, expected alerts with their
labels and annotations, and a case where each alert must stay quiet), on the plain rules file and
on what the chart renders. promtool comes from the Debian package `prometheus`;
hack/test-packaging.sh installs it when run as root.
"""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

import promql_lint
from conftest import (
    DOCS_DIR,
    FULL_VALUES,
    NAMESPACE,
    deep_merge,
    one,
    render_objects,
    run_promtool,
    validate_custom_resource,
)

RULES_FILE = DOCS_DIR / "alerts" / "bedrock-logging.rules.yaml"
ALERTS_MD = DOCS_DIR / "alerts.md"
UNIT_TESTS = Path(__file__).resolve().parent / "promtool" / "alerts_test.yaml"
RUNBOOK_BASE = "https://github.com/bedrock-logging-operator/bedrock-logging-operator/blob/main/docs/alerts.md"

# alert -> (values key under prometheusRule.alerts, default for, default severity)
ALERTS = {
    "BedrockLoggingNonCompliant": ("nonCompliant", "15m", "warning"),
    "BedrockLoggingTamperDetected": ("tamperDetected", "0m", "critical"),
    "BedrockLoggingReconcileErrors": ("reconcileErrors", "15m", "warning"),
    "BedrockLoggingOperatorAbsent": ("operatorAbsent", "10m", "critical"),
}
ON = {"prometheusRule": {"enabled": True}}


def plain_rules() -> dict:
    return yaml.safe_load(RULES_FILE.read_text())


def rules_by_alert(groups: list[dict]) -> dict[str, dict]:
    return {r["alert"]: r for g in groups for r in g["rules"]}


def chart_rule(chart, values: dict | None = None) -> dict:
    return one(render_objects(chart, deep_merge(ON, values or {})), "PrometheusRule")


def github_anchor(heading: str) -> str:
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def alert_sections() -> dict[str, str]:
    """docs/alerts.md: `## <alert>` heading -> section text."""
    parts = re.split(r"^## (.+)$", ALERTS_MD.read_text(), flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


# ------------------------------------------------------------------- the rules file


def test_rules_file_has_the_four_alerts_with_defaults():
    doc = plain_rules()
    assert set(doc) == {"groups"}
    (group,) = doc["groups"]
    assert group["name"] == "bedrock-logging-operator"
    rules = rules_by_alert(doc["groups"])
    assert list(rules) == list(ALERTS)
    for alert, (_, for_, severity) in ALERTS.items():
        rule = rules[alert]
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, alert
        assert rule["for"] == for_, alert
        assert rule["labels"] == {"severity": severity}, alert
        assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}, alert
        assert rule["annotations"]["runbook_url"] == f"{RUNBOOK_BASE}#{alert.lower()}"


def test_promtool_check_rules():
    proc = run_promtool("check", "rules", str(RULES_FILE))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 4 rules found" in proc.stdout


def test_promtool_unit_tests():
    proc = run_promtool("test", "rules", str(UNIT_TESTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_unit_tests_cover_every_alert_firing_and_quiet():
    doc = yaml.safe_load(UNIT_TESTS.read_text())
    assert doc["rule_files"] == [str(Path("..", "..", "..", "docs", "alerts", RULES_FILE.name))]
    fires, quiet = set(), set()
    for test in doc["tests"]:
        for case in test.get("alert_rule_test", []):
            (fires if case["exp_alerts"] else quiet).add(case["alertname"])
            for alert in case["exp_alerts"]:
                # the exact labels and annotations are asserted, not only "something fired"
                assert alert["exp_labels"].get("severity") == ALERTS[case["alertname"]][2]
                assert set(alert["exp_annotations"]) == {"summary", "description", "runbook_url"}
    assert fires == set(ALERTS), f"alerts without a test where they fire: {set(ALERTS) - fires}"
    assert quiet == set(ALERTS), f"alerts without a test where they stay quiet: {set(ALERTS) - quiet}"


def test_alert_expressions_name_only_exported_metrics():
    for alert, rule in rules_by_alert(plain_rules()["groups"]).items():
        assert not promql_lint.problems(rule["expr"]), (alert, promql_lint.problems(rule["expr"]))


# ------------------------------------------------------------------- docs/alerts.md


def test_every_alert_has_a_runbook_section():
    sections = alert_sections()
    rules = rules_by_alert(plain_rules()["groups"])
    anchors = {github_anchor(h) for h in sections}
    for alert, rule in rules.items():
        assert alert in sections, f"docs/alerts.md has no section `## {alert}`"
        text = sections[alert]
        assert re.search(r"^\*\*Runbook:\*\* \S", text, re.M), f"{alert}: no **Runbook:** line"
        for part in ("*Meaning.*", "*Diagnosis.*", "*Mitigation.*"):
            assert part in text, f"{alert}: no {part}"
        url = rule["annotations"]["runbook_url"]
        assert url.split("#", 1)[1] in anchors, f"{alert}: runbook_url anchor {url} not in docs/alerts.md"
        # the expression shown in the runbook is the one Prometheus evaluates
        blocks = re.findall(r"```promql\n(.*?)```", text, re.S)
        assert [b.strip() for b in blocks] == [rule["expr"].strip()], f"{alert}: runbook shows another expression"
        # the summary table states the defaults
        row = re.search(rf"^\| `{alert}` \| (\w+) \| (\w+) \|", ALERTS_MD.read_text(), re.M)
        assert row and row.groups() == (rule["labels"]["severity"], rule["for"]), alert


# ---------------------------------------------------------- the chart's PrometheusRule


def test_chart_renders_the_same_groups_as_the_rules_file(chart):
    rule = chart_rule(chart)
    assert rule["spec"]["groups"] == plain_rules()["groups"]


def test_chart_rules_pass_promtool_check_and_the_unit_tests(chart, tmp_path):
    rules = tmp_path / "chart.rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": chart_rule(chart)["spec"]["groups"]}, sort_keys=False))
    proc = run_promtool("check", "rules", str(rules))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tests = yaml.safe_load(UNIT_TESTS.read_text())
    tests["rule_files"] = [rules.name]
    (tmp_path / "alerts_test.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    proc = run_promtool("test", "rules", "alerts_test.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_chart_rules_with_overrides_pass_promtool_check(chart, tmp_path):
    rules = tmp_path / "chart.rules.yaml"
    groups = chart_rule(chart, FULL_VALUES)["spec"]["groups"]
    rules.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    proc = run_promtool("check", "rules", str(rules))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_chart_alert_overrides(chart):
    values = {
        "prometheusRule": {
            "alertLabels": {"team": "platform", "page": "true"},
            "runbookBaseUrl": "https://wiki.example.com/runbooks/blo/",
            "alerts": {
                "nonCompliant": {"for": "1h", "severity": "info"},
                "tamperDetected": {"for": "1m"},
                "reconcileErrors": {"enabled": False},
            },
        }
    }
    rules = rules_by_alert(chart_rule(chart, values)["spec"]["groups"])
    assert set(rules) == set(ALERTS) - {"BedrockLoggingReconcileErrors"}
    assert rules["BedrockLoggingNonCompliant"]["for"] == "1h"
    assert rules["BedrockLoggingNonCompliant"]["labels"] == {"severity": "info", "team": "platform", "page": "true"}
    assert rules["BedrockLoggingTamperDetected"]["for"] == "1m"
    assert rules["BedrockLoggingOperatorAbsent"]["for"] == "10m"
    assert rules["BedrockLoggingOperatorAbsent"]["annotations"]["runbook_url"] == (
        "https://wiki.example.com/runbooks/blo#bedrockloggingoperatorabsent"
    )
    plain = rules_by_alert(plain_rules()["groups"])
    for alert, rule in rules.items():
        assert rule["expr"] == plain[alert]["expr"]  # overrides never touch the expressions


def test_chart_rules_can_all_be_disabled_and_the_object_stays_valid(chart):
    values = {"prometheusRule": {"alerts": {k: {"enabled": False} for k, _, _ in ALERTS.values()}}}
    rule = chart_rule(chart, values)
    assert rule["spec"]["groups"][0]["rules"] == []
    validate_custom_resource(rule)


def test_prometheusrule_metadata(chart):
    rule = chart_rule(chart)
    assert rule["metadata"]["namespace"] == NAMESPACE
    assert rule["metadata"]["labels"]["app.kubernetes.io/instance"] == "bedrock-logging-operator"
    assert "interval" not in rule["spec"]["groups"][0]
    rule = chart_rule(chart, {"prometheusRule": {"namespace": "monitoring", "additionalLabels": {"release": "kps"}}})
    assert rule["metadata"]["namespace"] == "monitoring"
    assert rule["metadata"]["labels"]["release"] == "kps"


@pytest.mark.parametrize("values", [None, FULL_VALUES], ids=["default", "full"])
def test_prometheusrule_matches_its_crd(chart, values):
    validate_custom_resource(chart_rule(chart, values))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r["spec"]["groups"][0]["rules"][0].update({"fore": "15m"}),
        lambda r: r["spec"]["groups"][0]["rules"][0].update({"for": "15 minutes"}),
        lambda r: r["spec"]["groups"][0]["rules"][0].pop("expr"),
        lambda r: r["spec"]["groups"][0]["rules"][0]["labels"].update({"page": True}),
        lambda r: r["spec"]["groups"][0].pop("name"),
        lambda r: r["metadata"].pop("namespace"),
        lambda r: r["metadata"].update({"lables": {"release": "kps"}}),
    ],
    ids=["unknown-field", "bad-duration", "no-expr", "non-string-label", "group-without-name",
         "no-namespace", "metadata-typo"],
)
def test_crd_validation_catches_mistakes(chart, mutate):
    rule = chart_rule(chart)
    mutate(rule)
    with pytest.raises((jsonschema.ValidationError, kubernetes_validate.ValidationError)):
        validate_custom_resource(rule)
