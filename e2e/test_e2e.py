"""End-to-end tests of `bedrock-logging-operator run` against a real Kubernetes API server and an
AWS endpoint (moto by default). Driven by e2e/run.sh, which skips when no cluster is reachable.

The tests run in file order and share one controller process and the `demo` policy:

  CRD installed -> demo Ready -> printer columns / defaults -> resources in AWS -> steady state
  -> Audit policy writes nothing -> a conflicting policy writes nothing -> drift corrected within
  resyncInterval -> spec change observed -> delete (Disable) turns logging off, keeps data
  -> deleting the conflicting policy leaves the owner's logging -> delete (Retain) keeps logging.

Environment (set by run.sh): BLO_BIN, E2E_ARTIFACTS, AWS_ENDPOINT_URL (+ credentials).
"""

import copy
import json
import os
import pathlib
import socket
import subprocess
import time
import urllib.request

import boto3
import pytest
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = os.environ.get("BLO_BIN", str(ROOT / "target/debug/bedrock-logging-operator"))
ARTIFACTS = pathlib.Path(os.environ.get("E2E_ARTIFACTS", "/tmp/blo-e2e"))
FINALIZER = "bedrocklogging.io/finalizer"
CRD_NAME = "bedrockloggingpolicies.bedrocklogging.io"
# Every policy this suite creates (leftovers from an interrupted run are removed first).
NAMES = ["demo", "e2e-audit", "e2e-conflict", "e2e-disable", "e2e-audit-delete", "e2e-tamper"]
REPORT_CRD = "clusterreports.openreports.io"
REPORT_CRD_FILE = ROOT / "tests/packaging/fixtures/thirdparty-crds/openreports.io_clusterreports.yaml"
DEMO_REGIONS = ["us-east-1", "eu-west-1"]
AUDIT_REGION = "eu-central-1"
AUDIT_DELETE_REGION = "ca-central-1"  # only the Audit deletion test uses it
DISABLE_REGION = "us-west-2"
TAMPER_REGION = "ap-south-1"  # only the tamper-response test uses it
DRIFT_DEADLINE_S = 90  # demo.yaml: resyncInterval 1m, plus slack


# ---------------------------------------------------------------- helpers


def kubectl(*args, input=None, check=True, timeout=60):
    res = subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True,
                         timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({res.returncode}):\n"
                             f"{res.stdout}\n{res.stderr}")
    return res


def apply_obj(obj):
    kubectl("apply", "-f", "-", input=json.dumps(obj))


def get_blp(name):
    res = kubectl("get", "blp", name, "-o", "json", check=False)
    if res.returncode != 0:
        return None
    return json.loads(res.stdout)


def condition(obj, type_):
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def region_status(obj, region):
    for r in ((obj or {}).get("status") or {}).get("regions") or []:
        if r.get("region") == region:
            return r
    return None


def wait_until(fn, timeout, what, interval=2.0):
    """Poll fn() until it returns a truthy value; fail with `what` and the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
        except Exception as e:  # transient API errors while polling
            last = f"error: {e!r}"
            if time.monotonic() >= deadline:
                raise
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def sample(name):
    with open(ROOT / "config/samples" / name) as f:
        return yaml.safe_load(f)


def events_for(policy):
    res = kubectl("get", "events.events.k8s.io", "-n", "default", "-o", "json", check=False)
    if res.returncode != 0:
        return []
    return [e for e in json.loads(res.stdout).get("items", [])
            if (e.get("regarding") or {}).get("name") == policy
            and (e.get("regarding") or {}).get("kind") == "BedrockLoggingPolicy"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def delete_policy(name, timeout=90):
    kubectl("delete", "blp", name, "--ignore-not-found", "--wait=false")
    try:
        wait_until(lambda: get_blp(name) is None, timeout, f"blp/{name} to be deleted")
    except AssertionError:
        obj = get_blp(name)
        raise AssertionError(f"blp/{name} not deleted within {timeout}s (finalizer not removed "
                             f"by the controller?); status: "
                             f"{json.dumps((obj or {}).get('status'), indent=1)[:2000]}")


def force_remove(name):
    """Last resort in teardown: drop our finalizer so that nothing stays stuck."""
    if get_blp(name) is None:
        return
    kubectl("delete", "blp", name, "--ignore-not-found", "--wait=false", check=False)
    kubectl("patch", "blp", name, "--type=json",
            "-p", json.dumps([{"op": "remove", "path": "/metadata/finalizers"}]), check=False)


# ---------------------------------------------------------------- AWS side


class Aws:
    def __init__(self):
        self.endpoint = os.environ.get("AWS_ENDPOINT_URL")
        self.account = self.client("sts", "us-east-1").get_caller_identity()["Account"]

    def client(self, service, region):
        cfg = Config(retries={"max_attempts": 2}, s3={"addressing_style": "path"})
        return boto3.client(service, region_name=region, endpoint_url=self.endpoint, config=cfg)

    def logging_config(self, region):
        cfg = self.client("bedrock", region).get_model_invocation_logging_configuration()
        lc = cfg.get("loggingConfig") or {}
        # moto answers {"loggingConfig": {}} when nothing is set; real AWS omits the field.
        return lc if (lc.get("s3Config") or lc.get("cloudWatchConfig")) else None

    def bucket_exists(self, bucket, region):
        try:
            self.client("s3", region).head_bucket(Bucket=bucket)
            return True
        except ClientError:
            return False

    def bucket_encryption(self, bucket, region):
        try:
            enc = self.client("s3", region).get_bucket_encryption(Bucket=bucket)
        except Exception:
            return None
        rule = enc["ServerSideEncryptionConfiguration"]["Rules"][0]
        return {"algorithm": rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
                "key": rule["ApplyServerSideEncryptionByDefault"].get("KMSMasterKeyID"),
                "bucket_key": rule.get("BucketKeyEnabled", False)}

    def alias_key(self, alias, region):
        kms = self.client("kms", region)
        for page in kms.get_paginator("list_aliases").paginate():
            for a in page["Aliases"]:
                if a["AliasName"] == alias and a.get("TargetKeyId"):
                    return kms.describe_key(KeyId=a["TargetKeyId"])["KeyMetadata"]
        return None

    def aliases(self, region):
        kms = self.client("kms", region)
        return sorted(a["AliasName"] for page in kms.get_paginator("list_aliases").paginate()
                      for a in page["Aliases"])

    def buckets(self):
        return sorted(b["Name"] for b in self.client("s3", "us-east-1").list_buckets()["Buckets"])

    def log_group(self, name, region):
        groups = self.client("logs", region).describe_log_groups(
            logGroupNamePrefix=name)["logGroups"]
        return next((g for g in groups if g["logGroupName"] == name), None)

    def role(self, name):
        iam = self.client("iam", "us-east-1")
        try:
            return iam.get_role(RoleName=name)["Role"]
        except iam.exceptions.NoSuchEntityException:
            return None


def doc(v):
    """IAM documents come back URL-encoded strings or already-decoded dicts."""
    if isinstance(v, dict):
        return v
    from urllib.parse import unquote
    return json.loads(unquote(v))


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def aws():
    return Aws()


@pytest.fixture(scope="module")
def controller():
    """Install the CRD, clean leftovers, run the controller in the background for the module."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    crd = subprocess.run([BIN, "crd"], capture_output=True, text=True, check=True).stdout
    assert crd == (ROOT / "crds/bedrockloggingpolicies.yaml").read_text(), \
        "`bedrock-logging-operator crd` differs from crds/bedrockloggingpolicies.yaml"
    kubectl("apply", "-f", "-", input=crd)
    kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=60s")
    # OpenReports' ClusterReport CRD (unchanged copy), so `--reports auto` writes reports; only
    # installed (and removed at the end) when the cluster does not have it already.
    installed_report_crd = False
    if kubectl("get", "crd", REPORT_CRD, check=False).returncode != 0:
        kubectl("apply", "-f", str(REPORT_CRD_FILE))
        kubectl("wait", "--for=condition=Established", f"crd/{REPORT_CRD}", "--timeout=60s")
        installed_report_crd = True

    port = free_port()
    log_path = ARTIFACTS / "controller.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [BIN, "run", "--http-addr", f"127.0.0.1:{port}", "--log-format", "json",
         "--log-level", "info", "--concurrency", "4"],
        stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    url = f"http://127.0.0.1:{port}"

    def ready():
        assert proc.poll() is None, f"controller exited with {proc.returncode}; see {log_path}"
        try:
            return urllib.request.urlopen(f"{url}/readyz", timeout=2).status == 200
        except OSError:
            return False

    wait_until(ready, 60, "the controller's /readyz", interval=0.5)
    for name in NAMES:  # leftovers of an interrupted run
        if get_blp(name) is not None:
            delete_policy(name)
    yield {"proc": proc, "url": url, "log": log_path}

    try:
        if not os.environ.get("E2E_KEEP"):
            for name in NAMES:
                try:
                    delete_policy(name, timeout=60)
                except AssertionError as e:
                    print(f"teardown: {e}")
                    force_remove(name)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if installed_report_crd and not os.environ.get("E2E_KEEP"):
            kubectl("delete", "crd", REPORT_CRD, "--ignore-not-found", check=False)
        print(f"controller log: {log_path}")


def metrics(controller):
    return urllib.request.urlopen(f"{controller['url']}/metrics", timeout=5).read().decode()


def require_ready(name):
    obj = get_blp(name)
    c = condition(obj, "Ready")
    if not (c and c["status"] == "True"):
        pytest.fail(f"precondition: blp/{name} is not Ready ({c})")
    return obj


# ---------------------------------------------------------------- tests


def test_controller_serves_probes(controller):
    for path in ("/healthz", "/readyz"):
        assert urllib.request.urlopen(controller["url"] + path, timeout=5).status == 200
    assert "bedrock_logging_reconcile_duration_seconds" in metrics(controller)


def test_demo_becomes_ready(controller, aws):
    apply_obj(sample("demo.yaml"))
    kubectl("wait", "--for=condition=Ready", "blp/demo", "--timeout=120s", timeout=130)
    obj = get_blp("demo")
    st = obj["status"]
    assert FINALIZER in obj["metadata"].get("finalizers", [])
    assert st["observedGeneration"] == obj["metadata"]["generation"]
    assert st["accountId"] == aws.account
    assert (st["compliantRegions"], st["totalRegions"]) == (2, 2)
    assert condition(obj, "Ready")["reason"] == "Compliant"
    assert condition(obj, "Reconciling")["status"] == "False"
    assert condition(obj, "Stalled")["status"] == "False"
    for r in DEMO_REGIONS:
        rs = region_status(obj, r)
        assert rs and rs["state"] == "Compliant", rs
        assert all(f["status"] != "FAIL" for f in rs["findings"]), rs
        assert rs["lastChanges"], f"{r}: the first pass should list what it changed"


def test_printer_columns_and_schema_defaults(controller):
    require_ready("demo")
    lines = kubectl("get", "blp", "demo").stdout.strip().splitlines()
    assert lines[0].split() == ["NAME", "MODE", "REGIONS", "READY", "REASON", "AGE"], lines
    assert lines[1].split()[:5] == ["demo", "Enforce", "2/2", "True", "Compliant"], lines
    spec = get_blp("demo")["spec"]
    # Written by the API server from the CRD's schema defaults (demo.yaml sets none of these).
    assert spec["mode"] == "Enforce"
    assert spec["deletionPolicy"] == "Retain"
    assert sorted(spec["dataTypes"]) == sorted(["Text", "Image", "Embedding", "Video", "Audio"])
    assert "demo" in kubectl("get", "blp").stdout


def test_demo_converged_in_aws(controller, aws):
    obj = require_ready("demo")
    for r in DEMO_REGIONS:
        bucket = f"demo-bedrock-logs-{aws.account}-{r}"
        key = aws.alias_key("alias/bedrock-logging-demo", r)
        assert key and key["KeyState"] == "Enabled", key
        assert region_status(obj, r)["kmsKeyArn"] == key["Arn"]
        enc = aws.bucket_encryption(bucket, r)
        assert enc and enc["algorithm"] == "aws:kms" and enc["bucket_key"], enc
        assert enc["key"] in (key["Arn"], key["KeyId"]), enc
        lc = aws.logging_config(r)
        assert lc and lc["s3Config"]["bucketName"] == bucket, lc
        assert lc["cloudWatchConfig"]["logGroupName"] == "/aws/bedrock/model-invocation-logs"
        group = aws.log_group("/aws/bedrock/model-invocation-logs", r)
        assert group and group.get("kmsKeyId") == key["Arn"] and group.get("retentionInDays") == 30
    assert aws.role("BedrockModelInvocationLoggingRole") is not None


def test_steady_state_makes_no_status_writes(controller):
    """A converged policy must not be re-patched: its resourceVersion stays put."""
    rv = require_ready("demo")["metadata"]["resourceVersion"]
    seconds = int(os.environ.get("E2E_STABILITY_SECONDS", "20"))
    time.sleep(seconds)
    assert get_blp("demo")["metadata"]["resourceVersion"] == rv, \
        f"blp/demo was written during {seconds}s although nothing changed (status hot loop?)"


def test_demo_has_a_compliance_report_owned_by_it(controller, aws):
    """SPEC §4a on a real API server: one ClusterReport per policy, applied by the controller,
    owned by the policy, one result per region × check."""
    obj = require_ready("demo")

    def report():
        r = kubectl("get", "clusterreport", "demo", "-o", "json", check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    rep = wait_until(report, 60, "clusterreport/demo")
    owner = rep["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "BedrockLoggingPolicy" and owner["name"] == "demo"
    assert owner["uid"] == obj["metadata"]["uid"]
    assert rep["source"] == "bedrock-logging-operator"
    regions = {r["properties"]["region"] for r in rep["results"]}
    assert regions == set(DEMO_REGIONS), regions
    checks_per_region = len(rep["results"]) // len(DEMO_REGIONS)
    assert checks_per_region >= 10, rep["results"]
    assert rep["summary"]["fail"] == 0, rep["summary"]
    assert all(r["policy"] == "demo" for r in rep["results"])


def test_audit_policy_reports_and_writes_nothing(controller, aws):
    require_ready("demo")
    before = (aws.aliases(AUDIT_REGION), aws.buckets(), aws.logging_config(AUDIT_REGION))
    pol = sample("audit.yaml")
    pol["metadata"]["name"] = "e2e-audit"
    pol["spec"]["regions"] = [AUDIT_REGION]  # a region no other policy of this suite uses
    assert pol["spec"]["mode"] == "Audit"
    apply_obj(pol)
    obj = wait_until(lambda: (o := get_blp("e2e-audit")) and condition(o, "Ready") and o,
                     120, "a Ready condition on blp/e2e-audit")
    ready = condition(obj, "Ready")
    # Nothing exists there: Audit reports non-compliance, it never fixes it.
    assert ready["status"] == "False", ready
    lines = kubectl("get", "blp", "e2e-audit").stdout.strip().splitlines()
    assert lines[1].split()[1] == "Audit", lines
    time.sleep(3)
    after = (aws.aliases(AUDIT_REGION), aws.buckets(), aws.logging_config(AUDIT_REGION))
    assert after == before, "Audit mode wrote to AWS"
    changed = [e for e in events_for("e2e-audit") if e.get("reason") in ("Changed", "DriftCorrected")]
    assert not changed, changed


def test_conflicting_policy_writes_nothing(controller, aws):
    """A younger policy on the same account+region reports Conflict and leaves the owner's
    resources alone (including the shared IAM role)."""
    require_ready("demo")
    role_before = aws.role("BedrockModelInvocationLoggingRole")
    pol = copy.deepcopy(sample("demo.yaml"))
    pol["metadata"]["name"] = "e2e-conflict"
    pol["spec"]["regions"] = ["us-east-1"]
    pol["spec"]["deletionPolicy"] = "Disable"
    pol["spec"]["kmsKey"]["create"]["alias"] = "alias/blo-e2e-conflict"
    pol["spec"]["s3"]["bucketName"] = "e2e-conflict-logs-{accountId}-{region}"
    pol["spec"]["cloudWatch"]["largeDataDelivery"]["bucketName"] = \
        "e2e-conflict-logs-{accountId}-{region}"
    apply_obj(pol)

    def stalled():
        o = get_blp("e2e-conflict")
        c = condition(o, "Stalled")
        return o if c and c["status"] == "True" else None

    obj = wait_until(stalled, 120, "Stalled=True on blp/e2e-conflict")
    assert condition(obj, "Stalled")["reason"] == "Conflict", condition(obj, "Stalled")
    assert condition(obj, "Ready")["status"] == "False"
    assert region_status(obj, "us-east-1")["state"] == "Conflict"
    assert "demo" in (region_status(obj, "us-east-1").get("message") or ""), \
        "the Conflict message should name the owning policy"
    assert not aws.bucket_exists(f"e2e-conflict-logs-{aws.account}-us-east-1", "us-east-1")
    assert aws.alias_key("alias/blo-e2e-conflict", "us-east-1") is None
    assert aws.logging_config("us-east-1")["s3Config"]["bucketName"] == \
        f"demo-bedrock-logs-{aws.account}-us-east-1"
    changed = [e.get("note") for e in events_for("e2e-conflict")
               if e.get("reason") in ("Changed", "DriftCorrected")]
    assert not changed, f"the conflicting policy changed something: {changed}"
    role_after = aws.role("BedrockModelInvocationLoggingRole")
    assert doc(role_after["AssumeRolePolicyDocument"]) == \
        doc(role_before["AssumeRolePolicyDocument"]), "the conflicting policy rewrote demo's role"
    require_ready("demo")


def test_drift_is_corrected_within_resync_interval(controller, aws):
    obj = require_ready("demo")
    key_us = region_status(obj, "us-east-1")["kmsKeyArn"]
    bucket_us = f"demo-bedrock-logs-{aws.account}-us-east-1"
    # Out of band: logging switched off in eu-west-1, SSE-S3 instead of SSE-KMS in us-east-1.
    aws.client("bedrock", "eu-west-1").delete_model_invocation_logging_configuration()
    aws.client("s3", "us-east-1").put_bucket_encryption(
        Bucket=bucket_us,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    assert aws.logging_config("eu-west-1") is None
    assert aws.bucket_encryption(bucket_us, "us-east-1")["algorithm"] == "AES256"
    started = time.monotonic()

    def corrected():
        enc = aws.bucket_encryption(bucket_us, "us-east-1")
        return (aws.logging_config("eu-west-1") is not None and enc
                and enc["algorithm"] == "aws:kms" and enc["key"] in (key_us, key_us.split("/")[-1]))

    wait_until(corrected, DRIFT_DEADLINE_S, "the controller to correct both drifts in AWS")
    took = time.monotonic() - started
    print(f"drift corrected in AWS after {took:.1f}s")

    def reported():
        eu = kubectl("get", "blp", "demo", "-o",
                     'jsonpath={.status.regions[?(@.region=="eu-west-1")].lastChanges}').stdout
        us = kubectl("get", "blp", "demo", "-o",
                     'jsonpath={.status.regions[?(@.region=="us-east-1")].lastChanges}').stdout
        return ("logging" in eu.lower() and "encryption" in us.lower()) and (eu, us)

    eu, us = wait_until(reported, 30, "lastChanges of demo to report both corrections")
    print(f"lastChanges eu-west-1={eu} us-east-1={us}")
    kubectl("wait", "--for=condition=Ready", "blp/demo", "--timeout=60s", timeout=70)
    wait_until(lambda: [e for e in events_for("demo") if e.get("reason") == "DriftCorrected"],
               30, "a DriftCorrected event for demo")
    assert 'bedrock_logging_drift_corrections_total{policy="demo"}' in metrics(controller)


def test_spec_change_is_observed(controller, aws):
    obj = require_ready("demo")
    kubectl("patch", "blp", "demo", "--type=merge",
            "-p", json.dumps({"spec": {"cloudWatch": {"retentionInDays": 60}}}))
    generation = get_blp("demo")["metadata"]["generation"]
    assert generation > obj["metadata"]["generation"]

    def observed():
        o = get_blp("demo")
        c = condition(o, "Ready")
        return (o["status"].get("observedGeneration") == generation and c
                and c["status"] == "True" and c.get("observedGeneration") == generation)

    wait_until(observed, 60, f"demo Ready at observedGeneration {generation}")
    for r in DEMO_REGIONS:
        assert aws.log_group("/aws/bedrock/model-invocation-logs", r)["retentionInDays"] == 60


def test_delete_with_disable_turns_logging_off_and_keeps_data(controller, aws):
    pol = copy.deepcopy(sample("demo.yaml"))
    pol["metadata"]["name"] = "e2e-disable"
    pol["spec"]["regions"] = [DISABLE_REGION]
    pol["spec"]["deletionPolicy"] = "Disable"
    pol["spec"]["kmsKey"]["create"]["alias"] = "alias/blo-e2e-disable"
    pol["spec"]["s3"]["bucketName"] = "e2e-disable-logs-{accountId}-{region}"
    pol["spec"]["cloudWatch"]["logGroupName"] = "/aws/bedrock/e2e-disable"
    pol["spec"]["cloudWatch"]["roleName"] = "blo-e2e-disable"  # not demo's (shared) role
    pol["spec"]["cloudWatch"]["largeDataDelivery"]["bucketName"] = \
        "e2e-disable-logs-{accountId}-{region}"
    apply_obj(pol)
    kubectl("wait", "--for=condition=Ready", "blp/e2e-disable", "--timeout=120s", timeout=130)
    bucket = f"e2e-disable-logs-{aws.account}-{DISABLE_REGION}"
    assert aws.logging_config(DISABLE_REGION)["s3Config"]["bucketName"] == bucket

    delete_policy("e2e-disable")
    assert aws.logging_config(DISABLE_REGION) is None, "deletionPolicy Disable: logging still on"
    # Never deletes data.
    assert aws.bucket_exists(bucket, DISABLE_REGION)
    key = aws.alias_key("alias/blo-e2e-disable", DISABLE_REGION)
    assert key and key["KeyState"] == "Enabled", key
    assert aws.log_group("/aws/bedrock/e2e-disable", DISABLE_REGION) is not None
    assert aws.role("blo-e2e-disable") is not None


def test_deleting_an_audit_policy_never_writes(controller, aws):
    """Defect seen on a real cluster: an Audit policy with deletionPolicy Disable deleted the
    account's logging configuration when the CR was deleted. Audit never writes, deletion
    included: the configuration (exactly the one the policy describes) stays."""
    region = AUDIT_DELETE_REGION
    bucket = f"e2e-auditdel-{aws.account}-{region}"
    aws.client("bedrock", region).put_model_invocation_logging_configuration(loggingConfig={
        "s3Config": {"bucketName": bucket},
        "textDataDeliveryEnabled": True, "imageDataDeliveryEnabled": True,
        "embeddingDataDeliveryEnabled": True, "videoDataDeliveryEnabled": True,
        "audioDataDeliveryEnabled": True,
    })
    pol = {
        "apiVersion": "bedrocklogging.io/v1alpha1", "kind": "BedrockLoggingPolicy",
        "metadata": {"name": "e2e-audit-delete"},
        "spec": {"mode": "Audit", "deletionPolicy": "Disable", "regions": [region],
                 "kmsKey": {"create": {"alias": "alias/blo-e2e-audit-delete"}},
                 "s3": {"bucketName": "e2e-auditdel-{accountId}-{region}"}},
    }
    apply_obj(pol)
    wait_until(lambda: (o := get_blp("e2e-audit-delete")) and condition(o, "Ready") and o,
               120, "a Ready condition on blp/e2e-audit-delete")
    delete_policy("e2e-audit-delete")
    lc = aws.logging_config(region)
    assert lc and lc["s3Config"]["bucketName"] == bucket, \
        f"deleting an Audit policy changed the logging configuration: {lc}"


def test_deleting_the_conflicting_policy_leaves_the_owner_alone(controller, aws):
    require_ready("demo")
    assert get_blp("e2e-conflict") is not None, "precondition: e2e-conflict exists"
    delete_policy("e2e-conflict")  # deletionPolicy Disable, but it owns no region
    lc = aws.logging_config("us-east-1")
    assert lc and lc["s3Config"]["bucketName"] == f"demo-bedrock-logs-{aws.account}-us-east-1", \
        "deleting a policy in Conflict turned off the owner's logging"
    require_ready("demo")


def test_delete_with_retain_keeps_logging(controller, aws):
    require_ready("demo")
    delete_policy("demo")
    for r in DEMO_REGIONS:
        lc = aws.logging_config(r)
        assert lc and lc["s3Config"]["bucketName"] == f"demo-bedrock-logs-{aws.account}-{r}", \
            f"deletionPolicy Retain: logging changed in {r}: {lc}"
        assert aws.bucket_exists(f"demo-bedrock-logs-{aws.account}-{r}", r)
        key = aws.alias_key("alias/bedrock-logging-demo", r)
        assert key and key["KeyState"] == "Enabled"


def test_a_tamper_event_is_repaired_at_once_and_reported(controller, aws):
    """SPEC §3 step 7 on a real API server: with resyncInterval 24h, a CloudTrail-shaped event
    (delivered by EventBridge to the policy's queue) gets logging back within seconds, and the
    status and an Event name the actor."""
    name = "e2e-tamper"
    apply_obj({
        "apiVersion": "bedrocklogging.io/v1alpha1", "kind": "BedrockLoggingPolicy",
        "metadata": {"name": name},
        "spec": {
            "regions": [TAMPER_REGION],
            "kmsKey": {"create": {"alias": "alias/e2e-tamper"}},
            "s3": {"bucketName": "e2e-tamper-{accountId}-{region}"},
            "tamperResponse": {"queueName": "e2e-tamper"},
            "resyncInterval": "24h",
        },
    })
    try:
        kubectl("wait", "--for=condition=Ready", f"blp/{name}", "--timeout=120s", timeout=130)
        aws.client("bedrock", TAMPER_REGION).delete_model_invocation_logging_configuration()
        intruder = f"arn:aws:iam::{aws.account}:user/e2e-intruder"
        detail = {
            "eventVersion": "1.09", "eventSource": "bedrock.amazonaws.com",
            "eventName": "DeleteModelInvocationLoggingConfiguration",
            "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "awsRegion": TAMPER_REGION, "userIdentity": {"type": "IAMUser", "arn": intruder},
            "requestParameters": None, "eventType": "AwsApiCall", "managementEvent": True,
        }
        started = time.monotonic()
        out = aws.client("events", TAMPER_REGION).put_events(Entries=[{
            "Source": "aws.bedrock", "DetailType": "AWS API Call via CloudTrail",
            "Detail": json.dumps(detail)}])
        assert out["FailedEntryCount"] == 0
        wait_until(lambda: aws.logging_config(TAMPER_REGION) is not None, 30,
                   "the tamper event to get logging repaired", interval=0.1)
        print(f"MEASURE tamper_event_to_logging_restored_s={time.monotonic() - started:.2f}")

        def last_tamper():
            return (region_status(get_blp(name), TAMPER_REGION) or {}).get("lastTamper")

        seen = wait_until(last_tamper, 30, "status.regions[].lastTamper")
        assert seen["actor"] == intruder
        assert seen["event"] == "bedrock.amazonaws.com:DeleteModelInvocationLoggingConfiguration"
        wait_until(lambda: [e for e in events_for(name) if e.get("reason") == "TamperDetected"],
                   30, "a TamperDetected event")
        assert "bedrock_logging_tamper_events_total" in metrics(controller)
    finally:
        delete_policy(name)
