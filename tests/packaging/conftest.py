"""Shared helpers for the packaging tests (Helm chart, kustomize, Docker, GitOps docs).

Everything here is offline: Helm's engine comes from helm-python-sdk, Kubernetes schemas
from kubernetes-validate, kustomize from the installed kubectl.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import kubernetes_validate.utils as kv_utils
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = ROOT / "charts" / "bedrock-logging-operator"
CONFIG_DIR = ROOT / "config"
DOCS_DIR = ROOT / "docs"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

ROOT_CRD = ROOT / "crds" / "bedrockloggingpolicies.yaml"
CHART_CRD = CHART_DIR / "crds" / "bedrockloggingpolicies.yaml"
CONFIG_CRD = CONFIG_DIR / "crd" / "bedrockloggingpolicies.yaml"

# Third-party CRDs (ClusterReport, ClusterPolicyReport, PrometheusRule), copied unchanged into
# fixtures/; test_thirdparty_crds.py compares them with ../shared/thirdparty-crds when present.
THIRDPARTY_CRDS = FIXTURES / "thirdparty-crds"
SHARED_THIRDPARTY_CRDS = Path(
    os.environ.get("BLO_SHARED_CRDS") or (ROOT.parent / "shared" / "thirdparty-crds")
)

RELEASE = "bedrock-logging-operator"
NAMESPACE = "bedrock-logging-system"
KUBE_VERSION = "1.32.0"
KUSTOMIZE_DIRS = ["default", "overlays/ha", "overlays/emulator"]

CLUSTER_SCOPED_KINDS = {
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
}

# Values exercising every optional template branch (toYaml blocks, conditionals).
FULL_VALUES: dict[str, Any] = {
    "replicaCount": 3,
    "reports": "openreports",
    "image": {"digest": "sha256:" + "a" * 64, "pullPolicy": "Always"},
    "imagePullSecrets": [{"name": "ghcr"}],
    "serviceAccount": {
        "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/blo"},
        "labels": {"team": "platform"},
    },
    "leaderElection": {"leaseName": "blo-shard-a"},
    "aws": {"region": "eu-west-1", "endpointUrl": "http://moto.test.svc:5000"},
    "logLevel": "debug",
    "logFormat": "text",
    "selector": "bedrocklogging.io/shard in (a,b)",
    "concurrency": 16,
    "extraEnv": [
        {"name": "HTTPS_PROXY", "value": "http://proxy:3128"},
        {"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "aws", "key": "id"}}},
    ],
    "extraArgs": ["--some-flag=1"],
    "podAnnotations": {"example.com/scrape": "true"},
    "podLabels": {"team": "platform"},
    "priorityClassName": "system-cluster-critical",
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
    "affinity": {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "bedrock-logging-operator"}},
                    },
                }
            ]
        }
    },
    "topologySpreadConstraints": [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "bedrock-logging-operator"}},
        }
    ],
    "service": {"port": 9090, "annotations": {"example.com/a": "b"}},
    "metrics": {
        "serviceMonitor": {
            "enabled": True,
            "interval": "15s",
            "scrapeTimeout": "5s",
            "labels": {"release": "prometheus"},
            "relabelings": [{"action": "replace", "targetLabel": "cluster", "replacement": "prod"}],
            "metricRelabelings": [{"action": "drop", "sourceLabels": ["__name__"], "regex": "go_.*"}],
        }
    },
    "podDisruptionBudget": {"maxUnavailable": 1},
    "dashboards": {
        "enabled": True,
        "namespace": "monitoring",
        "labels": {"grafana_dashboard": "1", "team": "platform"},
        "annotations": {"grafana_folder": "Compliance"},
    },
    "prometheusRule": {
        "enabled": True,
        "namespace": "monitoring",
        "additionalLabels": {"release": "prometheus"},
        "annotations": {"example.com/owner": "platform"},
        "alertLabels": {"team": "platform"},
        "runbookBaseUrl": "https://runbooks.example.com/bedrock-logging",
        "interval": "1m",
        "alerts": {
            "nonCompliant": {"for": "30m", "severity": "critical"},
            "tamperDetected": {"enabled": True},
            "reconcileErrors": {"for": "1h"},
            "operatorAbsent": {"enabled": False},
        },
    },
}


# --------------------------------------------------------------------------- helm


@pytest.fixture(scope="session")
def chart():
    with helm.Chart.load(CHART_DIR) as loaded:
        yield loaded


def render_chart(chart, values: dict[str, Any] | None = None, *, name: str = RELEASE,
                 namespace: str = NAMESPACE) -> dict[str, str]:
    """Template path -> rendered text (NOTES.txt included)."""
    return chart.render(values or {}, name=name, namespace=namespace)


def manifests_of(rendered: dict[str, str]) -> list[dict[str, Any]]:
    """All Kubernetes objects of a render, NOTES.txt left out."""
    objects: list[dict[str, Any]] = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(load_yaml_docs(text, path))
    return objects


def load_yaml_docs(text: str, origin: str = "<string>") -> list[dict[str, Any]]:
    docs = []
    for doc in yaml.safe_load_all(text):
        if doc is None:
            continue
        assert isinstance(doc, dict), f"{origin}: a YAML document is not a mapping: {doc!r}"
        docs.append(doc)
    return docs


def render_objects(chart, values: dict[str, Any] | None = None, **kw) -> list[dict[str, Any]]:
    return manifests_of(render_chart(chart, values, **kw))


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o.get("kind") == kind]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(objects, kind)
    assert len(found) == 1, f"expected exactly one {kind}, found {len(found)}"
    return found[0]


def container(deployment: dict[str, Any], name: str = "manager") -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    matches = [c for c in containers if c["name"] == name]
    assert matches, f"no container {name!r} in {deployment['metadata']['name']}"
    return matches[0]


def env_of(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in c.get("env", [])}


# ------------------------------------------------------------------------ kustomize


@functools.lru_cache(maxsize=None)
def _kustomize_text(rel: str) -> str:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with built-in kustomize) is required on PATH for the packaging tests"
    proc = subprocess.run(
        [kubectl, "kustomize", str(CONFIG_DIR / rel)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"kubectl kustomize config/{rel} failed:\n{proc.stderr}"
    return proc.stdout


def kustomize_objects(rel: str) -> list[dict[str, Any]]:
    return load_yaml_docs(_kustomize_text(rel), f"config/{rel}")


# --------------------------------------------------------------------- validation


# kubernetes-validate re-reads (and re-parses) the 1.3 MB definitions file on every call;
# the files are immutable, so memoise the loader.
_orig_schema_contents = kv_utils.schema_contents
kv_utils.schema_contents = functools.lru_cache(maxsize=None)(_orig_schema_contents)


def validate_k8s(obj: dict[str, Any]) -> None:
    """Validate one object against the strict Kubernetes 1.32 OpenAPI schemas.

    Raises kubernetes_validate.SchemaNotFoundError for kinds without a bundled schema
    (custom resources) so callers decide what to do with them.
    """
    kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


@functools.lru_cache(maxsize=None)
def servicemonitor_schema() -> dict[str, Any]:
    return json.loads((FIXTURES / "servicemonitor-v1.schema.json").read_text())


def strict_structural_schema(node: Any) -> Any:
    """A CRD's openAPIV3Schema as a JSON schema that rejects unknown fields.

    The API server prunes fields a structural schema does not declare (and `kubectl
    --validate=strict` rejects them): here every object node with `properties` and neither
    `additionalProperties` nor `x-kubernetes-preserve-unknown-fields` gets
    `additionalProperties: false`, so a misspelt field fails instead of vanishing. `required`,
    `enum`, `pattern`, `type` and the rest are JSON Schema already.
    """
    if isinstance(node, list):
        return [strict_structural_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict_structural_schema(v) for k, v in node.items()
           if k not in ("properties", "additionalProperties")}
    if "properties" in node:
        out["properties"] = {k: strict_structural_schema(v) for k, v in node["properties"].items()}
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = strict_structural_schema(node["additionalProperties"])
    elif "additionalProperties" in node:
        out["additionalProperties"] = node["additionalProperties"]
    elif "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


@functools.lru_cache(maxsize=None)
def thirdparty_crds() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> {"schema": strict JSON schema, "scope": ..., "crd": file name}
    for every served version of the CRDs in fixtures/thirdparty-crds."""
    index: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(THIRDPARTY_CRDS.glob("*.yaml")):
        for crd in load_yaml_docs(path.read_text(), path.name):
            spec = crd["spec"]
            for version in spec["versions"]:
                if not version.get("served"):
                    continue
                schema = strict_structural_schema(version["schema"]["openAPIV3Schema"])
                api_version = f"{spec['group']}/{version['name']}"
                schema["properties"]["apiVersion"] = {"type": "string", "enum": [api_version]}
                schema["properties"]["kind"] = {"type": "string", "enum": [spec["names"]["kind"]]}
                schema.setdefault("required", [])
                schema["required"] = sorted(set(schema["required"]) | {"apiVersion", "kind", "metadata"})
                # the schema is well-formed (formats left out: CRD patterns are Go RE2, e.g. `(?i)`)
                jsonschema.Draft7Validator(jsonschema.Draft7Validator.META_SCHEMA).validate(schema)
                index[(api_version, spec["names"]["kind"])] = {
                    "schema": schema,
                    "scope": spec["scope"],
                    "crd": path.name,
                }
    return index


def validate_custom_resource(obj: dict[str, Any]) -> None:
    """Validate a custom resource against its third-party CRD's schema (strict, as above) and its
    metadata against the Kubernetes ObjectMeta schema. Raises jsonschema.ValidationError or
    kubernetes_validate.ValidationError."""
    key = (obj.get("apiVersion"), obj.get("kind"))
    entry = thirdparty_crds().get(key)
    if entry is None:
        raise LookupError(f"no third-party CRD serves {key[0]} {key[1]}")
    jsonschema.Draft7Validator(entry["schema"]).validate(obj)
    meta = obj["metadata"]
    if entry["scope"] == "Cluster":
        if "namespace" in meta:
            raise jsonschema.ValidationError(f"{key[1]} is cluster-scoped: metadata.namespace must not be set")
    elif not meta.get("namespace"):
        raise jsonschema.ValidationError(f"{key[1]} is namespaced: metadata.namespace is required")
    # ObjectMeta is only `type: object` in a CRD schema; the API server checks it as ObjectMeta.
    validate_k8s({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta})


def validate_manifest(obj: dict[str, Any]) -> None:
    """Any object the chart or kustomize renders: Kubernetes kinds against the 1.32 schemas,
    PrometheusRule against its CRD, ServiceMonitor against the checked-in schema subset."""
    what = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    api_kind = (obj.get("apiVersion"), obj.get("kind"))
    try:
        if api_kind == ("monitoring.coreos.com/v1", "ServiceMonitor"):
            jsonschema.validate(obj, servicemonitor_schema())
        elif api_kind in thirdparty_crds():
            validate_custom_resource(obj)
        else:
            validate_k8s(obj)
    except kubernetes_validate.ValidationError as e:
        pytest.fail(f"{what} is invalid at {'/'.join(map(str, e.path))}: {e.message}")
    except kubernetes_validate.SchemaNotFoundError as e:
        pytest.fail(f"{what}: {e.message}")
    except jsonschema.ValidationError as e:
        pytest.fail(f"{what} is invalid at {'/'.join(map(str, e.absolute_path))}: {e.message}")


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


# ------------------------------------------------------------------------ promtool


def promtool() -> str | None:
    return shutil.which("promtool")


def require_promtool() -> str:
    path = promtool()
    if not path:
        pytest.skip(
            "promtool is not on PATH (Debian package `prometheus`; hack/test-packaging.sh "
            "installs it when run as root)"
        )
    return path


def run_promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([require_promtool(), *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


# ------------------------------------------------------------------------- binary


def blo_bin() -> str | None:
    path = os.environ.get("BLO_BIN", "").strip()
    return path or None


def run_blo(*args: str) -> str:
    binary = blo_bin()
    assert binary, "BLO_BIN is not set"
    proc = subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, (
        f"`{binary} {' '.join(args)}` exited {proc.returncode}:\n{proc.stderr}"
    )
    return proc.stdout


def require_blo_bin(what: str) -> None:
    if not blo_bin():
        pytest.skip(
            f"BLO_BIN is not set: {what} needs the built binary "
            "(e.g. BLO_BIN=target/release/bedrock-logging-operator bash hack/test-packaging.sh)"
        )


# -------------------------------------------------------------------- deployment


def assert_hardened(deployment: dict[str, Any]) -> None:
    """Security settings every packaging of the controller must carry."""
    pod = deployment["spec"]["template"]["spec"]
    psc = pod.get("securityContext", {})
    assert psc.get("runAsNonRoot") is True
    assert psc.get("runAsUser") == 65532
    assert psc.get("seccompProfile", {}).get("type") == "RuntimeDefault"
    assert pod.get("hostNetwork") in (None, False)
    assert pod.get("hostPID") in (None, False)
    assert pod.get("hostIPC") in (None, False)
    for c in pod["containers"] + pod.get("initContainers", []):
        sc = c.get("securityContext", {})
        where = f"container {c['name']}"
        assert sc.get("runAsNonRoot") is True, where
        assert sc.get("runAsUser") == 65532, where
        assert sc.get("readOnlyRootFilesystem") is True, where
        assert sc.get("allowPrivilegeEscalation") is False, where
        assert sc.get("privileged") in (None, False), where
        assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
        assert not sc.get("capabilities", {}).get("add"), where
        assert sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        res = c.get("resources", {})
        assert res.get("requests", {}).get("cpu") and res.get("requests", {}).get("memory"), where
        assert res.get("limits", {}).get("memory"), where
    # The controller talks to the API server: the token must be mounted.
    assert pod.get("automountServiceAccountToken") in (None, True)


def assert_probes_and_env(deployment: dict[str, Any]) -> None:
    c = container(deployment)
    ports = {p["name"]: p for p in c["ports"]}
    assert ports["http"]["containerPort"] == 8080
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["args"][0] == "run"
    assert "--http-addr=0.0.0.0:8080" in c["args"]
    env = env_of(c)
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
