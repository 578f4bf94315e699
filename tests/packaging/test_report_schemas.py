"""Compliance reports (SPEC §4a) against the report APIs' own CRDs.

`validate_report(obj)` checks a ClusterReport (openreports.io/v1alpha1) or ClusterPolicyReport
(wgpolicyk8s.io/v1alpha2) the way an API server with that CRD would (structural schema with
unknown fields rejected, `required`, `enum`, types; ObjectMeta against the Kubernetes schema,
cluster scope), then the operator's own contract: one result per account × region × check,
`policy` = the policy name, `rule` = a check id, `source: bedrock-logging-operator`,
`properties` account / region / resource, a message, the summary equal to the result counts,
owned by its BedrockLoggingPolicy.

It runs on the hand-written samples in fixtures/, and on every `*.json` in `$BLO_REPORTS_DIR`
when that is set (reports the controller generated, e.g. dumped by a Rust test or fetched with
`kubectl get clusterreports -o json | jq -c '.items[]'`, one object per file).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from conftest import FIXTURES, ROOT, validate_custom_resource

SOURCE = "bedrock-logging-operator"
REPORT_KINDS = {
    ("openreports.io/v1alpha1", "ClusterReport"),
    ("wgpolicyk8s.io/v1alpha2", "ClusterPolicyReport"),
}
RESULTS = ("pass", "fail", "warn", "error", "skip")
SAMPLES = {
    "clusterreport": FIXTURES / "sample-clusterreport.json",
    "clusterpolicyreport": FIXTURES / "sample-clusterpolicyreport.json",
}
ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")


class ReportError(AssertionError):
    """The report is well-formed for the API server but breaks the operator's report contract."""


@functools.lru_cache(maxsize=None)
def check_ids() -> frozenset[str]:
    """The compliance check ids, from the golden `check -o json` output (every check, per region)."""
    golden = json.loads((ROOT / "tests" / "golden" / "check.json").read_text())
    ids = {f["id"] for p in golden["policies"] for r in p["regions"] for f in r["findings"]}
    assert ids, "tests/golden/check.json lists no findings"
    return frozenset(ids)


def validate_report(obj: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError / kubernetes_validate.ValidationError (the API server
    would reject it) or ReportError (it breaks the operator's report contract)."""
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key not in REPORT_KINDS:
        raise ReportError(f"not a report kind the operator writes: {key}")
    validate_custom_resource(obj)

    meta = obj["metadata"]
    owners = [o for o in meta.get("ownerReferences", [])
              if o.get("apiVersion") == "bedrocklogging.io/v1alpha1" and o.get("kind") == "BedrockLoggingPolicy"]
    if len(owners) != 1 or owners[0].get("controller") is not True:
        raise ReportError("a report is owned (controller: true) by exactly one BedrockLoggingPolicy")
    policy = owners[0]["name"]
    if not (meta.get("name") == policy or meta.get("name", "").startswith(f"{policy}-")):
        raise ReportError(f"report {meta.get('name')!r} is not named after its policy {policy!r}")
    if key[1] == "ClusterReport" and obj.get("source", SOURCE) != SOURCE:
        raise ReportError(f"source is {obj.get('source')!r}, not {SOURCE!r}")
    scope = obj.get("scope")
    if scope is not None and (scope.get("kind"), scope.get("name")) != ("BedrockLoggingPolicy", policy):
        raise ReportError(f"scope {scope} is not the owning policy")

    results = obj.get("results") or []
    seen = set()
    for i, r in enumerate(results):
        where = f"results[{i}]"
        if r["policy"] != policy:
            raise ReportError(f"{where}.policy is {r['policy']!r}, not the policy name {policy!r}")
        if r.get("rule") not in check_ids():
            raise ReportError(f"{where}.rule {r.get('rule')!r} is not a check id")
        if r.get("result") not in RESULTS:
            raise ReportError(f"{where}.result is missing")
        if not r.get("severity"):
            raise ReportError(f"{where}.severity is missing")
        if r.get("source") != SOURCE:
            raise ReportError(f"{where}.source is {r.get('source')!r}, not {SOURCE!r}")
        props = r.get("properties") or {}
        for field in ("account", "region", "resource"):
            if not props.get(field):
                raise ReportError(f"{where}.properties.{field} is missing")
        if not ACCOUNT_RE.match(props["account"]):
            raise ReportError(f"{where}.properties.account {props['account']!r} is not an account id")
        if not REGION_RE.match(props["region"]):
            raise ReportError(f"{where}.properties.region {props['region']!r} is not a region")
        if not (r.get("message") or props.get("message")):
            raise ReportError(f"{where} has no message")
        ident = (props["account"], props["region"], r["rule"])
        if ident in seen:
            raise ReportError(f"{where}: a second result for {ident}")
        seen.add(ident)

    counts = Counter(r["result"] for r in results)
    summary = obj.get("summary") or {}
    for status in RESULTS:
        if summary.get(status, 0) != counts.get(status, 0):
            raise ReportError(f"summary.{status} is {summary.get(status, 0)}, the results have {counts.get(status, 0)}")
    # every (account, region) has every check: one result per region x check
    cells = {(a, reg) for a, reg, _ in seen}
    for cell in cells:
        missing = check_ids() - {rule for a, reg, rule in seen if (a, reg) == cell}
        if missing:
            raise ReportError(f"{cell}: no result for {sorted(missing)}")


def load(name: str) -> dict[str, Any]:
    return json.loads(SAMPLES[name].read_text())


# ------------------------------------------------------------------------ samples


@pytest.mark.parametrize("name", list(SAMPLES))
def test_sample_report_is_valid(name):
    report = load(name)
    validate_report(report)
    regions = {r["properties"]["region"] for r in report["results"]}
    assert len(report["results"]) == len(regions) * len(check_ids())


def test_samples_carry_the_same_results():
    """The two APIs differ in their envelope only: a ClusterPolicyReport is the fallback."""
    a, b = load("clusterreport"), load("clusterpolicyreport")
    assert a["results"] == b["results"] and a["summary"] == b["summary"] and a["scope"] == b["scope"]


BROKEN = {
    # rejected by the CRD schema (the API server)
    "uppercase-result": (lambda r: r["results"][0].update({"result": "FAIL"}), jsonschema.ValidationError),
    "unknown-severity": (lambda r: r["results"][0].update({"severity": "urgent"}), jsonschema.ValidationError),
    "misspelt-field": (lambda r: r["results"][0].update({"resutl": "pass"}), jsonschema.ValidationError),
    "no-policy": (lambda r: r["results"][0].pop("policy"), jsonschema.ValidationError),
    "non-string-property": (lambda r: r["results"][0]["properties"].update({"account": 111122223333}),
                            jsonschema.ValidationError),
    "timestamp-without-nanos": (lambda r: r["results"][0]["timestamp"].pop("nanos"), jsonschema.ValidationError),
    "summary-as-string": (lambda r: r["summary"].update({"pass": "15"}), jsonschema.ValidationError),
    "namespaced": (lambda r: r["metadata"].update({"namespace": "default"}), jsonschema.ValidationError),
    "wrong-api-version": (lambda r: r.update({"apiVersion": r["apiVersion"].rsplit("/", 1)[0] + "/v9"}), ReportError),
    "metadata-typo": (lambda r: r["metadata"].update({"lables": {}}), kubernetes_validate.ValidationError),
    # accepted by the API server, but not what the operator promises
    "summary-mismatch": (lambda r: r["summary"].update({"fail": 0}), ReportError),
    "foreign-source": (lambda r: r["results"][0].update({"source": "kyverno"}), ReportError),
    "unknown-check": (lambda r: r["results"][0].update({"rule": "bedrock_logging_everything_fine"}), ReportError),
    "other-policy": (lambda r: r["results"][0].update({"policy": "staging"}), ReportError),
    "no-region": (lambda r: r["results"][0]["properties"].pop("region"), ReportError),
    "bad-account": (lambda r: r["results"][0]["properties"].update({"account": "prod"}), ReportError),
    "duplicate-result": (lambda r: r["results"].append(copy.deepcopy(r["results"][0])), ReportError),
    "missing-check": (lambda r: r["results"].pop(0) and r["summary"].update({"pass": r["summary"]["pass"] - 1}),
                      ReportError),
    "no-owner": (lambda r: r["metadata"].pop("ownerReferences"), ReportError),
}


@pytest.mark.parametrize("name", list(SAMPLES))
@pytest.mark.parametrize("broken", list(BROKEN))
def test_broken_report_is_rejected(name, broken):
    mutate, error = BROKEN[broken]
    report = load(name)
    mutate(report)
    with pytest.raises(error):
        validate_report(report)


# ------------------------------------------------------------- generated reports


def generated_reports() -> list[Path]:
    folder = os.environ.get("BLO_REPORTS_DIR", "").strip()
    return sorted(Path(folder).glob("*.json")) if folder else []


@pytest.mark.parametrize("path", generated_reports() or [None], ids=lambda p: p.name if p else "none")
def test_generated_reports_are_valid(path):
    if path is None:
        if os.environ.get("BLO_REPORTS_DIR", "").strip():
            pytest.fail(f"BLO_REPORTS_DIR={os.environ['BLO_REPORTS_DIR']} holds no *.json report")
        pytest.skip("BLO_REPORTS_DIR is not set: no generated reports to validate "
                    "(set it to a folder of ClusterReport / ClusterPolicyReport *.json files)")
    validate_report(json.loads(path.read_text()))
