"""Every rendered manifest (Helm and kustomize) against the Kubernetes 1.32 schemas."""

from __future__ import annotations

import jsonschema
import kubernetes_validate
import pytest

from conftest import (
    CHART_CRD,
    FULL_VALUES,
    KUSTOMIZE_DIRS,
    kustomize_objects,
    load_yaml_docs,
    render_objects,
    servicemonitor_schema,
    validate_k8s,
    validate_manifest,
)

CHART_VALUE_SETS = {
    "default": None,
    "ha": {"replicaCount": 2},
    "ha-alias": {"replicas": 2},
    "observability": {"dashboards": {"enabled": True}, "prometheusRule": {"enabled": True}},
    "full": FULL_VALUES,
    "no-rbac-existing-sa": {"rbac": {"create": False}, "serviceAccount": {"create": False, "name": "x"}},
}


def _validate_all(objects, origin):
    """Kubernetes kinds against the 1.32 schemas; returns the Prometheus Operator objects."""
    custom = []
    for obj in objects:
        what = f"{origin}: {obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        if obj["apiVersion"] == "monitoring.coreos.com/v1":
            custom.append(obj)
            continue
        try:
            validate_k8s(obj)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{what} is invalid at {'/'.join(map(str, e.path))}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:
            pytest.fail(f"{what}: {e.message}")
    return custom


@pytest.mark.parametrize("values", list(CHART_VALUE_SETS.values()), ids=list(CHART_VALUE_SETS))
def test_chart_manifests_match_kubernetes_schemas(chart, values):
    objects = render_objects(chart, values)
    assert objects
    for obj in _validate_all(objects, "chart"):
        # No Kubernetes schema for the Prometheus Operator kinds: the ServiceMonitor against the
        # checked-in subset, the PrometheusRule against its CRD (fixtures/thirdparty-crds).
        validate_manifest(obj)


@pytest.mark.parametrize("overlay", KUSTOMIZE_DIRS)
def test_kustomize_output_matches_kubernetes_schemas(overlay):
    objects = kustomize_objects(overlay)
    assert objects
    assert not _validate_all(objects, f"config/{overlay}")


def test_chart_crd_is_a_valid_crd():
    (crd,) = load_yaml_docs(CHART_CRD.read_text(), str(CHART_CRD))
    validate_k8s(crd)


def test_servicemonitor_schema_catches_typos(chart):
    (sm,) = [o for o in render_objects(chart, FULL_VALUES) if o["kind"] == "ServiceMonitor"]
    sm["spec"]["endpoints"][0]["intervall"] = "30s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(sm, servicemonitor_schema())


def test_strict_kubernetes_schema_catches_typos(chart):
    (deploy,) = [o for o in render_objects(chart) if o["kind"] == "Deployment"]
    deploy["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_k8s(deploy)
