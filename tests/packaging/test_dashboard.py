"""Grafana dashboard (docs/grafana/bedrock-logging.json), its chart ConfigMap, and the metric names.

Every PromQL expression of the dashboard (panel targets and variable queries) may name only the
metrics in docs/metrics.txt, with the labels docs/metrics.md gives them; Prometheus' parser
(`promtool check rules`) checks their syntax.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

import promql_lint
from conftest import (
    CHART_DIR,
    DOCS_DIR,
    NAMESPACE,
    one,
    render_objects,
    run_promtool,
    validate_manifest,
)

DASHBOARD = DOCS_DIR / "grafana" / "bedrock-logging.json"
CHART_COPY = CHART_DIR / "files" / "bedrock-logging.json"
DS = {"type": "prometheus", "uid": "${datasource}"}
PANEL_TYPES = {"row", "stat", "timeseries", "table", "state-timeline", "gauge", "bargauge", "text"}
GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__range", "__range_s", "__interval_ms"}


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels(d: dict | None = None) -> list[dict]:
    out = []
    for p in (d or dashboard())["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))  # collapsed rows carry their panels
    return out


def targets() -> list[tuple[str, dict]]:
    return [(p["title"], t) for p in panels() if p["type"] != "row" for t in p["targets"]]


def variables() -> dict[str, dict]:
    return {v["name"]: v for v in dashboard()["templating"]["list"]}


def variable_query(v: dict) -> str:
    q = v["query"]
    return q["query"] if isinstance(q, dict) else q


# --------------------------------------------------------------------- the JSON


def test_chart_copy_is_identical():
    assert CHART_COPY.read_bytes() == DASHBOARD.read_bytes(), (
        "charts/bedrock-logging-operator/files/bedrock-logging.json differs from "
        "docs/grafana/bedrock-logging.json: copy the docs file over the chart's"
    )


def test_dashboard_model():
    d = dashboard()
    assert d["id"] is None, "provisioned dashboards carry no database id"
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", d["uid"]), d["uid"]
    assert d["title"] and isinstance(d["tags"], list)
    assert isinstance(d["schemaVersion"], int) and d["schemaVersion"] >= 36
    assert d["time"] == {"from": "now-24h", "to": "now"}
    # the Grafana sidecar provisions files as they are: no import-time inputs to resolve
    assert "__inputs" not in d and "__requires" not in d
    assert "${DS_" not in DASHBOARD.read_text()


def test_templating_has_datasource_policy_and_region():
    v = variables()
    assert set(v) == {"datasource", "policy", "region"}
    assert v["datasource"]["type"] == "datasource" and v["datasource"]["query"] == "prometheus"
    for name in ("policy", "region"):
        var = v[name]
        assert var["type"] == "query"
        assert var["datasource"] == DS
        assert var["multi"] is True and var["includeAll"] is True and var["allValue"] == ".*"
        selector, label = promql_lint.label_values_query(variable_query(var))
        assert label == name
        assert not promql_lint.problems(promql_lint.grafana_to_promql(selector)), selector
        (sel,) = promql_lint.names_in(promql_lint.grafana_to_promql(selector)).selectors
        assert label in promql_lint.samples()[sel.metric][1], f"{sel.metric} has no label {label}"


def test_panels_layout_and_datasource():
    ps = panels()
    ids = [p["id"] for p in ps]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids), "panel ids unique"
    boxes = []
    for p in ps:
        assert p["type"] in PANEL_TYPES, p["type"]
        g = p["gridPos"]
        assert {"h", "w", "x", "y"} <= set(g) and all(isinstance(g[k], int) for k in "hwxy")
        assert g["x"] >= 0 and g["w"] >= 1 and g["x"] + g["w"] <= 24, p["title"]
        for other_title, (x, y, w, h) in boxes:
            overlap = x < g["x"] + g["w"] and g["x"] < x + w and y < g["y"] + g["h"] and g["y"] < y + h
            assert not overlap, f"{p['title']!r} overlaps {other_title!r}"
        boxes.append((p["title"], (g["x"], g["y"], g["w"], g["h"])))
        if p["type"] == "row":
            continue
        assert p["title"] and p.get("description"), p["id"]
        assert p["datasource"] == DS, p["title"]
        assert p["targets"], p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            assert t["datasource"] == DS, p["title"]
            assert isinstance(t["expr"], str) and t["expr"].strip(), p["title"]


def test_panels_cover_the_issue():
    """Compliance over time per policy/region, failing checks table, drift corrections, tamper
    events, AWS call rate / errors / throttling by service, reconcile latency."""
    by_title = {p["title"]: p for p in panels()}
    expected = {
        "Region compliance over time": ("state-timeline", "bedrock_logging_region_compliant"),
        "Compliance per policy": ("timeseries", "bedrock_logging_compliant_regions"),
        "Failing checks": ("table", "bedrock_logging_check_passing"),
        "Drift corrections": ("timeseries", "bedrock_logging_drift_corrections_total"),
        "Tamper events": ("timeseries", "bedrock_logging_tamper_events_total"),
        "AWS calls by service": ("timeseries", "bedrock_logging_aws_calls_total"),
        "AWS errors by service": ("timeseries", "bedrock_logging_aws_calls_total"),
        "AWS throttling by service": ("timeseries", "bedrock_logging_aws_calls_total"),
        "Reconcile latency": ("timeseries", "bedrock_logging_reconcile_duration_seconds_bucket"),
    }
    for title, (kind, metric) in expected.items():
        assert title in by_title, f"no panel {title!r}"
        p = by_title[title]
        assert p["type"] == kind, title
        metrics = {s.metric for t in p["targets"] for s in promql_lint.names_in(t["expr"]).selectors}
        assert metric in metrics, f"{title}: does not query {metric}"
    assert "by (policy, account, region)" in by_title["Region compliance over time"]["targets"][0]["expr"]
    assert "by (service)" in by_title["AWS throttling by service"]["targets"][0]["expr"]
    assert 'outcome="throttled"' in by_title["AWS throttling by service"]["targets"][0]["expr"]
    assert 'outcome!="ok"' in by_title["AWS errors by service"]["targets"][0]["expr"]
    failing = by_title["Failing checks"]["targets"][0]
    assert failing["instant"] is True and failing["format"] == "table"


def test_every_promql_expression_names_only_exported_metrics():
    bad = {}
    for title, t in targets():
        found = promql_lint.problems(promql_lint.grafana_to_promql(t["expr"]))
        if found:
            bad[f"{title}/{t['refId']}"] = found
    assert not bad, bad


def test_every_template_variable_is_defined():
    defined = set(variables()) | GRAFANA_BUILTINS
    texts = [t["expr"] for _, t in targets()] + [variable_query(v) for v in variables().values()
                                                   if v["type"] == "query"]
    for text in texts:
        for name in promql_lint.GRAFANA_VAR_RE.findall(text):
            assert name in defined, f"${name} is not a dashboard variable: {text}"
    # the filters are applied wherever the metric has the label
    for title, t in targets():
        for sel in promql_lint.names_in(t["expr"]).selectors:
            own = promql_lint.samples()[sel.metric][1]
            for var in ("policy", "region"):
                if var in own and sel.metric != "up":
                    assert f'{var}=~"${var}"' in t["expr"], f"{title}: {sel.metric} not filtered by ${var}"


def test_dashboard_expressions_parse_with_promtool(tmp_path):
    """Prometheus' own parser: each expression (variables substituted) as a recording rule."""
    rules = [{"record": f"dashboard:panel_{i}", "expr": promql_lint.grafana_to_promql(t["expr"])}
             for i, (_, t) in enumerate(targets())]
    selectors = [promql_lint.label_values_query(variable_query(v))[0]
                 for v in variables().values() if v["type"] == "query"]
    rules += [{"record": f"dashboard:variable_{i}", "expr": promql_lint.grafana_to_promql(s)}
              for i, s in enumerate(selectors)]
    path = tmp_path / "dashboard.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    proc = run_promtool("check", "rules", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(rules)} rules found" in proc.stdout


# ---------------------------------------------------------- docs/metrics.{txt,md}


def test_metrics_txt_and_md_agree():
    families = promql_lint.families()
    assert families, "docs/metrics.txt lists no metric"
    documented = promql_lint.documented_labels()
    assert set(documented) == set(families), (
        f"docs/metrics.md documents {sorted(set(documented) ^ set(families))} differently from metrics.txt"
    )
    md = promql_lint.METRICS_MD.read_text()
    used = set().union(*documented.values())
    for label in used:
        assert re.search(rf"^\| `{label}` \|", md, re.M), f"docs/metrics.md: no value row for label {label!r}"


@pytest.mark.parametrize("doc", ["metrics.md", "integrations.md", "alerts.md"])
def test_promql_in_docs_names_only_exported_metrics(doc):
    text = (DOCS_DIR / doc).read_text()
    blocks = re.findall(r"```promql\n(.*?)```", text, re.S)
    assert blocks, f"docs/{doc} has no promql block"
    for block in blocks:
        for expr in re.split(r"\n\s*\n", block):  # blank-line separated queries
            expr = "\n".join(line for line in expr.splitlines() if not line.strip().startswith("#"))
            if expr.strip():
                assert not promql_lint.problems(expr), (doc, expr, promql_lint.problems(expr))


@pytest.mark.parametrize(
    "expr, problem",
    [
        ("bedrock_logging_reconciles", "counter family"),
        ("rate(bedrock_logging_reconcile_total[5m])", "unknown metric"),
        ("bedrock_logging_check_passing{regoin=\"x\"}", "unknown label 'regoin'"),
        ("sum by (account) (bedrock_logging_check_passing)", "grouping by 'account'"),
        ("sum by (le) (rate(bedrock_logging_reconcile_duration_seconds_sum[5m]))", "grouping by 'le'"),
        ("{__name__=~\"bedrock_logging_.+\"}", "bare selector"),
        ("vector(1)", "names no metric"),
        ("process_resident_memory_bytes", "unknown metric"),
    ],
)
def test_the_metric_check_catches_mistakes(expr, problem):
    found = promql_lint.problems(expr)
    assert any(problem in p for p in found), found


@pytest.mark.parametrize(
    "expr",
    [
        "histogram_quantile(0.99, sum by (le) (rate(bedrock_logging_reconcile_duration_seconds_bucket[5m])))",
        'sum without (instance) (rate(bedrock_logging_aws_calls_total{outcome!="ok", service=~"kms|s3"}[1h] offset 5m))',
        'count_values("v", bedrock_logging_build_info) or on (job) up{job="x"} == 0',
        "max by (policy) (bedrock_logging_regions) - ignoring (instance) group_left () max by (policy) (bedrock_logging_compliant_regions) > 1e3",
        "bedrock_logging_tamper_events_total unless max_over_time(bedrock_logging_tamper_events_total[1h:5m] offset 10m)",
    ],
)
def test_the_metric_check_accepts_valid_queries(expr):
    assert promql_lint.problems(expr) == []


# ------------------------------------------------------------- the chart ConfigMap


def test_dashboard_configmap_is_opt_in(chart):
    assert not [o for o in render_objects(chart) if o["kind"] == "ConfigMap"]


def test_dashboard_configmap(chart):
    objects = render_objects(chart, {"dashboards": {"enabled": True}})
    cm = one(objects, "ConfigMap")
    validate_manifest(cm)
    assert cm["metadata"]["name"] == "bedrock-logging-operator-dashboard"
    assert cm["metadata"]["namespace"] == NAMESPACE
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["labels"]["app.kubernetes.io/instance"] == "bedrock-logging-operator"
    assert "annotations" not in cm["metadata"]
    assert list(cm["data"]) == ["bedrock-logging.json"]
    assert json.loads(cm["data"]["bedrock-logging.json"]) == dashboard()
    assert cm["data"]["bedrock-logging.json"] == DASHBOARD.read_text().rstrip("\n")
    # client-side `kubectl apply` keeps the whole object in an annotation limited to 256 KiB
    assert len(json.dumps(cm)) < 256 * 1024


def test_dashboard_configmap_labels_annotations_namespace(chart):
    values = {"dashboards": {"enabled": True, "namespace": "monitoring",
                             "labels": {"grafana_dashboard": None, "grafana-dashboards": "bedrock"},
                             "annotations": {"grafana_folder": "Compliance"}}}
    cm = one(render_objects(chart, values, name="shard-a"), "ConfigMap")
    validate_manifest(cm)
    assert cm["metadata"]["namespace"] == "monitoring"
    assert cm["metadata"]["name"] == "shard-a-bedrock-logging-operator-dashboard"
    assert "grafana_dashboard" not in cm["metadata"]["labels"]  # a default label can be dropped
    assert cm["metadata"]["labels"]["grafana-dashboards"] == "bedrock"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "Compliance"}


def test_dashboard_configmap_name_fits_long_release_names(chart):
    cm = one(render_objects(chart, {"dashboards": {"enabled": True}}, name="a" * 53), "ConfigMap")
    assert len(cm["metadata"]["name"]) <= 63
    validate_manifest(cm)
