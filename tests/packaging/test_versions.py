"""One version everywhere: Cargo package, chart appVersion, kustomize image tag, examples."""

from __future__ import annotations

import tomllib

import yaml

from conftest import CHART_DIR, CONFIG_DIR, DOCS_DIR, ROOT, load_yaml_docs


def app_version() -> str:
    return yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())["appVersion"]


def test_chart_app_version_is_the_crate_version():
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    assert app_version() == cargo["package"]["version"]


def test_kustomize_image_tag_is_the_app_version():
    kustomization = yaml.safe_load((CONFIG_DIR / "default" / "kustomization.yaml").read_text())
    (image,) = kustomization["images"]
    assert image["name"] == "ghcr.io/bedrock-logging-operator/bedrock-logging-operator"
    assert image["newTag"] == app_version()


def test_gitops_examples_pin_the_release_tag():
    tag = f"v{app_version()}"
    apps = load_yaml_docs((DOCS_DIR / "examples" / "argocd-application.yaml").read_text())
    assert apps[0]["spec"]["source"]["targetRevision"] == tag
    flux = load_yaml_docs((DOCS_DIR / "examples" / "flux-helmrelease.yaml").read_text())
    (repo,) = [d for d in flux if d["kind"] == "GitRepository"]
    assert repo["spec"]["ref"]["tag"] == tag
