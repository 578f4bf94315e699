"""GitOps examples and YAML style (yamllint) of the hand-written YAML files."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

from conftest import CHART_CRD, CHART_DIR, CONFIG_DIR, DOCS_DIR, ROOT, load_yaml_docs

EXAMPLES = DOCS_DIR / "examples"
THIS_REPO = "github.com/bedrock-logging-operator/bedrock-logging-operator"

YAMLLINT_CONFIG = YamlLintConfig(
    """
extends: relaxed
rules:
  line-length:
    max: 160
  trailing-spaces: enable
  key-duplicates: enable
  new-line-at-end-of-file: enable
"""
)


def example_docs(name: str) -> list[dict]:
    return load_yaml_docs((EXAMPLES / name).read_text(), name)


def linted_files() -> list[Path]:
    files = [CHART_DIR / "Chart.yaml", CHART_DIR / "values.yaml"]
    files += sorted(EXAMPLES.glob("*.yaml"))
    files += sorted((DOCS_DIR / "alerts").glob("*.yaml"))
    # hand-written kustomize files (the CRD copy is generated and left out)
    files += sorted(p for p in CONFIG_DIR.rglob("*.yaml") if p.name != "bedrockloggingpolicies.yaml")
    return files


@pytest.mark.parametrize("path", linted_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_yamllint(path):
    problems = [p for p in linter.run(path.read_text(), YAMLLINT_CONFIG, str(path)) if p.level == "error"]
    assert not problems, "\n".join(f"{path.relative_to(ROOT)}:{p.line}:{p.column} {p.message} ({p.rule})" for p in problems)


def test_every_example_is_valid_yaml_with_kubernetes_shape():
    files = sorted(EXAMPLES.glob("*.yaml"))
    assert {f.name for f in files} >= {
        "argocd-application.yaml",
        "argocd-cm-health.yaml",
        "flux-helmrelease.yaml",
        "flux-kustomization.yaml",
        "bedrockloggingpolicy.yaml",
    }
    for f in files:
        docs = load_yaml_docs(f.read_text(), f.name)
        assert docs, f.name
        for d in docs:
            assert d.get("apiVersion") and d.get("kind"), f"{f.name}: apiVersion/kind missing"
            assert d.get("metadata", {}).get("name"), f"{f.name}: metadata.name missing"


def test_argocd_applications(chart):
    apps = example_docs("argocd-application.yaml")
    assert all(a["apiVersion"] == "argoproj.io/v1alpha1" and a["kind"] == "Application" for a in apps)
    operator = next(a for a in apps if THIS_REPO in a["spec"]["source"]["repoURL"])
    source = operator["spec"]["source"]
    assert (ROOT / source["path"] / "Chart.yaml").exists(), source["path"]
    # the values in the example are accepted by the chart's schema and render
    chart.validate_schema(source["helm"]["valuesObject"])
    chart.render(source["helm"]["valuesObject"], name=source["helm"]["releaseName"],
                 namespace=operator["spec"]["destination"]["namespace"])
    assert "ServerSideApply=true" in operator["spec"]["syncPolicy"]["syncOptions"]
    waves = {a["metadata"]["name"]: int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for a in apps}
    assert waves["bedrock-logging-operator"] < waves["bedrock-logging-policies"]
    policies = next(a for a in apps if a["metadata"]["name"] == "bedrock-logging-policies")
    assert policies["spec"]["syncPolicy"]["automated"]["prune"] is False


def test_flux_helmrelease(chart):
    docs = {d["kind"]: d for d in example_docs("flux-helmrelease.yaml")}
    repo, release = docs["GitRepository"], docs["HelmRelease"]
    assert repo["apiVersion"] == "source.toolkit.fluxcd.io/v1"
    assert release["apiVersion"] == "helm.toolkit.fluxcd.io/v2"
    chart_spec = release["spec"]["chart"]["spec"]
    assert (ROOT / chart_spec["chart"] / "Chart.yaml").exists()
    assert chart_spec["sourceRef"]["name"] == repo["metadata"]["name"]
    assert release["spec"]["install"]["crds"] == "CreateReplace"
    assert release["spec"]["upgrade"]["crds"] == "CreateReplace"
    chart.validate_schema(release["spec"]["values"])


def test_flux_kustomizations():
    docs = {d["metadata"]["name"]: d for d in example_docs("flux-kustomization.yaml")}
    operator, policies = docs["bedrock-logging-operator"], docs["bedrock-logging-policies"]
    for d in docs.values():
        assert d["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1" and d["kind"] == "Kustomization"
    assert (ROOT / operator["spec"]["path"] / "kustomization.yaml").exists()
    assert operator["spec"]["wait"] is True
    assert policies["spec"]["dependsOn"] == [{"name": "bedrock-logging-operator"}]
    assert policies["spec"]["wait"] is True
    assert policies["spec"]["prune"] is False
    (expr,) = policies["spec"]["healthCheckExprs"]
    assert expr["apiVersion"] == "bedrocklogging.io/v1alpha1" and expr["kind"] == "BedrockLoggingPolicy"
    assert "'Ready'" in expr["current"] and "'Stalled'" in expr["failed"] and "'Reconciling'" in expr["inProgress"]


def _openapi_to_jsonschema(node):
    """Structural OpenAPI v3 (CRD) schema -> JSON Schema: drop x-kubernetes-*, map nullable."""
    if isinstance(node, list):
        return [_openapi_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key in ("nullable", "format"):
            continue
        if key in ("properties", "patternProperties"):
            out[key] = {k: _openapi_to_jsonschema(v) for k, v in value.items()}
        else:
            out[key] = _openapi_to_jsonschema(value)
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def test_example_policy_matches_crd_schema():
    (policy,) = example_docs("bedrockloggingpolicy.yaml")
    (crd,) = load_yaml_docs(CHART_CRD.read_text(), str(CHART_CRD))
    assert policy["apiVersion"] == f"{crd['spec']['group']}/v1alpha1"
    assert policy["kind"] == crd["spec"]["names"]["kind"]
    assert "namespace" not in policy["metadata"], "BedrockLoggingPolicy is cluster-scoped"
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema = _openapi_to_jsonschema(version["schema"]["openAPIV3Schema"])
    jsonschema.Draft7Validator(schema).validate(policy)


def test_docs_link_to_existing_files():
    for doc in [DOCS_DIR / "gitops.md", DOCS_DIR / "iam.md", CHART_DIR / "README.md",
                DOCS_DIR / "metrics.md", DOCS_DIR / "alerts.md", DOCS_DIR / "integrations.md"]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text()):
            assert (doc.parent / target).exists(), f"{doc.relative_to(ROOT)} links to missing {target}"
