"""The Argo CD Lua health check, run with Lua 5.1 (Argo CD embeds gopher-lua, a Lua 5.1)."""

from __future__ import annotations

import re

import pytest
import yaml
from lupa import lua51

from conftest import DOCS_DIR

HEALTH_LUA = DOCS_DIR / "argocd" / "health.lua"
ARGO_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}


def cond(type_, status, reason="", message=""):
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-11-21T10:00:00Z",
        "observedGeneration": 3,
    }


def policy(status=None, generation=3):
    obj = {
        "apiVersion": "bedrocklogging.io/v1alpha1",
        "kind": "BedrockLoggingPolicy",
        "metadata": {"name": "prod", "generation": generation},
        "spec": {"mode": "Enforce", "regions": ["us-east-1"]},
    }
    if status is not None:
        obj["status"] = status
    return obj


def status(*conditions, observed=3, **extra):
    s = {"conditions": list(conditions), **extra}
    if observed is not None:
        s["observedGeneration"] = observed
    return s


READY = cond("Ready", "True", "Compliant", "2/2 regions compliant")
NOT_RECONCILING = cond("Reconciling", "False", "Converged", "")
NOT_STALLED = cond("Stalled", "False", "Converged", "")

CASES = [
    ("no status", policy(), "Progressing", "Waiting for the operator"),
    ("status without conditions", policy({"observedGeneration": 3}), "Progressing", "Waiting for the operator"),
    ("empty conditions", policy(status()), "Progressing", "Waiting for the Ready condition"),
    (
        "compliant",
        policy(status(READY, NOT_RECONCILING, NOT_STALLED, compliantRegions=2, totalRegions=2)),
        "Healthy",
        "Compliant: 2/2 regions compliant",
    ),
    (
        "ready but generation not observed yet",
        policy(status(READY, NOT_RECONCILING, NOT_STALLED, observed=2)),
        "Progressing",
        "generation 3",
    ),
    (
        "observedGeneration missing",
        policy(status(READY, observed=None)),
        "Progressing",
        "generation 3",
    ),
    (
        "no generation in metadata (trust the conditions)",
        policy(status(READY, NOT_RECONCILING, NOT_STALLED), generation=None),
        "Healthy",
        "",
    ),
    (
        "stalled: access denied",
        policy(
            status(
                cond("Ready", "False", "AccessDenied", "kms:CreateKey denied"),
                NOT_RECONCILING,
                cond("Stalled", "True", "AccessDenied", "kms:CreateKey denied in us-east-1: grant it (docs/iam.md)"),
            )
        ),
        "Degraded",
        "AccessDenied: kms:CreateKey denied in us-east-1",
    ),
    (
        "stalled wins over reconciling",
        policy(
            status(
                cond("Reconciling", "True", "Converging", "converging eu-west-1"),
                cond("Stalled", "True", "Conflict", "us-east-1 is owned by policy other"),
            )
        ),
        "Degraded",
        "Conflict: us-east-1 is owned by policy other",
    ),
    (
        "stalled on an old generation is not final",
        policy(status(cond("Stalled", "True", "InvalidSpec", "spec.regions"), observed=2)),
        "Progressing",
        "generation 3",
    ),
    (
        "reconciling",
        policy(
            status(
                cond("Ready", "False", "Converging", "1/2 regions compliant"),
                cond("Reconciling", "True", "Converging", "creating bucket in eu-west-1"),
                NOT_STALLED,
            )
        ),
        "Progressing",
        "Converging: creating bucket in eu-west-1",
    ),
    (
        "audit mode non-compliant",
        policy(
            status(
                cond("Ready", "False", "NonCompliant", "us-east-1: bedrock_model_invocation_logging_enabled FAIL"),
                NOT_RECONCILING,
                NOT_STALLED,
            )
        ),
        "Degraded",
        "Audit: NonCompliant: us-east-1: bedrock_model_invocation_logging_enabled FAIL",
    ),
    (
        "not ready for another reason, not working on it",
        policy(status(cond("Ready", "False", "Error", "throttled"), NOT_RECONCILING, NOT_STALLED)),
        "Degraded",
        "Error: throttled",
    ),
    (
        "ready unknown",
        policy(status(cond("Ready", "Unknown", "Pending", ""), NOT_STALLED)),
        "Progressing",
        "Waiting for the Ready condition",
    ),
    (
        "condition without message or reason",
        policy(status({"type": "Stalled", "status": "True"})),
        "Degraded",
        "Stalled",
    ),
]


def lua_runtime():
    rt = lua51.LuaRuntime(unpack_returned_tuples=True)
    g = rt.globals()
    # Argo CD's sandbox offers no I/O, OS or module loading: the script must not need them.
    for name in ("os", "io", "require", "dofile", "loadfile", "package", "debug"):
        g[name] = None
    return rt


def evaluate(obj):
    rt = lua_runtime()
    rt.globals().obj = rt.table_from(obj, recursive=True)
    result = rt.execute(HEALTH_LUA.read_text())
    assert result is not None, "the script must return a table"
    return dict(result)


def test_runtime_is_lua_5_1():
    assert lua_runtime().eval("_VERSION") == "Lua 5.1"


@pytest.mark.parametrize("name, obj, expected, message", CASES, ids=[c[0] for c in CASES])
def test_health(name, obj, expected, message):
    result = evaluate(obj)
    assert result["status"] in ARGO_STATUSES
    assert result["status"] == expected, result
    assert message in result.get("message", ""), result


def test_script_is_self_contained():
    text = HEALTH_LUA.read_text()
    assert not re.search(r"\b(os|io|package|debug)\.|\brequire\b|\bdofile\b|\bloadfile\b", text)


def test_gitops_doc_embeds_the_same_script():
    doc = (DOCS_DIR / "gitops.md").read_text()
    blocks = re.findall(r"^```lua\n(.*?)^```$", doc, re.S | re.M)
    assert len(blocks) == 1, "docs/gitops.md must contain exactly one ```lua block"
    assert blocks[0] == HEALTH_LUA.read_text(), "docs/gitops.md and docs/argocd/health.lua differ"
    assert "resource.customizations.health.bedrocklogging.io_BedrockLoggingPolicy" in doc


def test_argocd_cm_example_embeds_the_same_script():
    cm = yaml.safe_load((DOCS_DIR / "examples" / "argocd-cm-health.yaml").read_text())
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == "argocd-cm"
    key = "resource.customizations.health.bedrocklogging.io_BedrockLoggingPolicy"
    assert cm["data"][key] == HEALTH_LUA.read_text()
