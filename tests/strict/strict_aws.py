#!/usr/bin/env python3
"""strict_aws.py - the strict AWS layer: a loopback proxy in front of moto.

moto stores what real AWS rejects and never shows AWS's timing. This proxy sits between the
AWS SDK and moto (integration tests only), forwards every request unchanged and relays moto's
answer, except where one of the rules below answers instead, in AWS's wire format for that
protocol (so the Rust SDK parses the modelled error code).

Start (stdlib only, python3 >= 3.9):

    python3 tests/strict/strict_aws.py --upstream http://127.0.0.1:MOTOPORT --port 0 \
        [--port-file PATH] [--config JSON-or-@file] [--quiet]

It binds 127.0.0.1, prints `listening http://127.0.0.1:PORT` on stdout (flushed) and, with
--port-file, writes PORT to that file (atomically, after the socket is listening). It runs
until killed. Point the SDK at the printed URL (AWS_ENDPOINT_URL).

Rules (name -> default), each switchable under config "rules":

  cloudtrail_types           on   PutEventSelectors: InvalidEventSelectorsException for a
                                  resources.type not in CloudTrail's data-event table (or a
                                  resources.type selector that does not use Equals).
  bedrock_validation         on   PutModelInvocationLoggingConfiguration: ValidationException
                                  for missing/misconfigured destinations (bucket, bucket policy,
                                  ownership, bucket key policy, log group, role, trust, role
                                  policy, disabled/pending-deletion keys).
  permission_propagation     on   after an accepted IAM CreateRole / UpdateAssumeRolePolicy /
                                  PutRolePolicy / AttachRolePolicy / DetachRolePolicy /
                                  DeleteRolePolicy (account-wide, every region), S3
                                  PutBucketPolicy, KMS CreateKey / PutKeyPolicy (that account and
                                  region): the next 2 otherwise-valid Bedrock puts in each region
                                  fail with "Failed to validate permissions for log group ...".
  kms_key_state              on   KMS Encrypt / Decrypt / ReEncrypt / GenerateDataKey*, Logs
                                  CreateLogGroup / AssociateKmsKey with kmsKeyId:
                                  DisabledException (disabled key), KMSInvalidStateException
                                  (pending deletion).
  kms_eventual_consistency   on   after CreateKey returns K: the next 1 CreateAlias /
                                  EnableKeyRotation / DescribeKey naming K -> NotFoundException;
                                  the next 1 ListKeys in that account+region omit K.
  iam_eventual_consistency   on   after CreateRole R: the next 1 GetRole / PutRolePolicy on R ->
                                  NoSuchEntity.
  iam_size_limits            on   trust policy > 2048 non-whitespace chars -> LimitExceeded
                                  (CreateRole, UpdateAssumeRolePolicy); inline policies of a role
                                  > 10240 non-whitespace chars in total -> LimitExceeded
                                  (PutRolePolicy); non-JSON document -> MalformedPolicyDocument.
  logs_kms_access            on   CreateLogGroup / AssociateKmsKey with kmsKeyId:
                                  AccessDeniedException "The specified KMS key does not exist or
                                  is not allowed to be used with Arn '...'" always when the key is
                                  missing, not an ARN of a key in that region, or its policy lacks
                                  the logs.<region>.amazonaws.com grant; and for the next 1 such
                                  call after the key was created or its policy changed.
  logs_associate_kms_key     on   implements AssociateKmsKey / DisassociateKmsKey (moto: HTTP
                                  500) with an overlay, injected into DescribeLogGroups.
  s3_new_bucket_defaults     on   after CreateBucket: SSE-S3, the four public-access-block flags,
                                  BucketOwnerEnforced (or the x-amz-object-ownership asked for).
  s3_expected_owner          on   x-amz-expected-bucket-owner not the bucket's account -> 403.
  s3_require_expected_owner  OFF  any call naming a bucket (CreateBucket excluded) without
                                  x-amz-expected-bucket-owner -> 403 AccessDenied.
  sts_assume_role_trust      on   AssumeRole -> AccessDenied when the role is missing, its trust
                                  does not admit the caller, or sts:ExternalId differs.
  organizations_rate         on   Organizations calls of one account closer together than
                                  limits.organizations_min_interval_ms -> TooManyRequestsException.
  sqs_queue_deleted_recently on   CreateQueue under the name of a queue deleted (DeleteQueue)
                                  less than limits.sqs_deleted_queue_name_ms (60000) ago ->
                                  QueueDeletedRecently (query code AWS.SimpleQueueService.
                                  QueueDeletedRecently).

Windows (config "windows", each {"calls": N, "ms": M}); a window opens at its trigger; the
first N matching calls after the trigger fail; with M > 0, additionally every matching call
within M milliseconds of the trigger fails. Defaults are call-counted only (ms 0), so runs are
deterministic:

  permission_propagation    {"calls": 2, "ms": 0}   per account+region
  kms_eventual_consistency  {"calls": 1, "ms": 0}   per key (CreateAlias/EnableKeyRotation/DescribeKey)
  kms_list_keys_lag         {"calls": 1, "ms": 0}   per key (ListKeys calls in its account+region)
  iam_eventual_consistency  {"calls": 1, "ms": 0}   per role (GetRole/PutRolePolicy)
  logs_kms_access           {"calls": 1, "ms": 0}   per key (CreateLogGroup/AssociateKmsKey)

Limits (config "limits"): trust_policy_chars 2048, role_inline_policy_chars 10240.
Options (config "options"): bedrock_check_role_policy true (the role's inline + attached
policies must allow logs:CreateLogStream and logs:PutLogEvents on the log stream
aws/bedrock/modelinvocations), cloudtrail_extra_types [] (more accepted resources.type values).

Control API (on the proxy itself):
  GET  /strict-api/health   -> {"ok": true, "upstream": ...}
  POST /strict-api/reset    -> clears all proxy state (windows, overlays, identity cache) and the
                               log, and restores the start-up config (defaults + --config);
                               ?keep-config=true keeps the current config. moto is NOT reset.
  GET  /strict-api/config   -> the current config (JSON)
  POST /strict-api/config   -> deep-merges a JSON object into the config; unknown keys -> 400.
                               Shorthands: {"enable": [names]}, {"disable": [names]}.
  GET  /strict-api/log      -> the rules that fired, one JSON object a line (rule, operation,
                               service, region, account, message, ts); ?rule=NAME filters.

Accounts: a request's account is its x-moto-account-id header if present, else what moto's STS
GetCallerIdentity says for the same access key id (moto maps access keys to accounts; assumed
role credentials act in the role's account); cached per access key until reset. The proxy's own
reads of moto state carry x-moto-account-id and a well-formed (unsigned) Authorization header.
"""

import argparse
import copy
import http.client
import json
import os
import re
import sys
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape as xml_escape

# --------------------------------------------------------------------------------------------
# configuration

RULES = [
    "cloudtrail_types",
    "bedrock_validation",
    "permission_propagation",
    "kms_key_state",
    "kms_eventual_consistency",
    "iam_eventual_consistency",
    "iam_size_limits",
    "logs_kms_access",
    "logs_associate_kms_key",
    "s3_new_bucket_defaults",
    "s3_expected_owner",
    "s3_require_expected_owner",
    "sts_assume_role_trust",
    "organizations_rate",
    "sqs_queue_deleted_recently",
]

DEFAULT_CONFIG = {
    "rules": {name: (name != "s3_require_expected_owner") for name in RULES},
    "windows": {
        "permission_propagation": {"calls": 2, "ms": 0},
        "kms_eventual_consistency": {"calls": 1, "ms": 0},
        "kms_list_keys_lag": {"calls": 1, "ms": 0},
        "iam_eventual_consistency": {"calls": 1, "ms": 0},
        "logs_kms_access": {"calls": 1, "ms": 0},
    },
    "limits": {
        "trust_policy_chars": 2048,
        "role_inline_policy_chars": 10240,
        # AWS Organizations throttles listing calls (about one per second per account).
        "organizations_min_interval_ms": 500,
        # SQS refuses to create a queue under the name of one deleted less than 60 s ago.
        "sqs_deleted_queue_name_ms": 60000,
    },
    "options": {"bedrock_check_role_policy": True, "cloudtrail_extra_types": []},
}

# CloudTrail data-event resource types (advanced event selectors, field resources.type).
BEDROCK_TYPES = [
    "AgentAlias", "AsyncInvoke", "FlowAlias", "Guardrail", "InlineAgent", "KnowledgeBase",
    "Model", "PromptVersion", "Session", "FlowExecution", "AutomatedReasoningPolicy",
    "AutomatedReasoningPolicyVersion", "DataAutomationProject", "DataAutomationInvocation",
    "DataAutomationProfile", "Blueprint", "Tool",
]
AGENTCORE_TYPES = [
    "CodeInterpreter", "CodeInterpreterCustom", "Browser", "BrowserCustom", "WorkloadIdentity",
    "WorkloadIdentityDirectory", "TokenVault", "APIKeyCredentialProvider",
    "OAuth2CredentialProvider", "Runtime", "RuntimeEndpoint", "Gateway", "Memory",
]
OTHER_DATA_EVENT_TYPES = [
    "AWS::S3::Object", "AWS::S3::AccessPoint", "AWS::S3Express::Object",
    "AWS::S3ObjectLambda::AccessPoint", "AWS::S3Outposts::Object", "AWS::S3Tables::Table",
    "AWS::S3Tables::TableBucket", "AWS::Lambda::Function", "AWS::DynamoDB::Table",
    "AWS::DynamoDB::Stream", "AWS::SNS::Topic", "AWS::SNS::PlatformEndpoint", "AWS::SQS::Queue",
    "AWS::Kinesis::Stream", "AWS::Kinesis::StreamConsumer", "AWS::KinesisVideo::Stream",
    "AWS::CloudTrail::Channel", "AWS::Cognito::IdentityPool", "AWS::EC2::Snapshot",
    "AWS::EMRWAL::Workspace", "AWS::FinSpace::Environment", "AWS::Glue::Table",
    "AWS::GuardDuty::Detector", "AWS::IoTTwinMaker::Entity", "AWS::IoTTwinMaker::Workspace",
    "AWS::ManagedBlockchain::Network", "AWS::ManagedBlockchain::Node",
    "AWS::MedicalImaging::Datastore", "AWS::NeptuneGraph::Graph", "AWS::SageMaker::Endpoint",
    "AWS::SageMaker::ExperimentTrialComponent", "AWS::SageMaker::FeatureGroup",
    "AWS::SecretsManager::Secret", "AWS::ServiceDiscovery::Namespace",
    "AWS::ServiceDiscovery::Service", "AWS::SCN::Instance", "AWS::SSMMessages::ControlChannel",
    "AWS::SWF::Domain", "AWS::Timestream::Database", "AWS::Timestream::Table",
    "AWS::VerifiedPermissions::PolicyStore", "AWS::XRay::Trace", "AWS::AppConfig::Configuration",
    "AWS::QBusiness::Application", "AWS::QBusiness::DataSource", "AWS::QBusiness::Index",
    "AWS::QBusiness::WebExperience", "AWS::CodeWhisperer::Customization",
    "AWS::CodeWhisperer::Profile",
]
DATA_EVENT_TYPES = frozenset(
    ["AWS::Bedrock::" + t for t in BEDROCK_TYPES]
    + ["AWS::BedrockAgentCore::" + t for t in AGENTCORE_TYPES]
    + OTHER_DATA_EVENT_TYPES
)

JSON_TARGETS = {
    "organizations": "AWSOrganizationsV20161128.",
    "kms": "TrentService.",
    "logs": "Logs_20140328.",
    "cloudtrail": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.",
    "sqs": "AmazonSQS.",
}
QUERY_NS = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}
QUERY_VERSION = {"iam": "2010-05-08", "sts": "2011-06-15"}
KMS_CRYPTO_OPS = {
    "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateMac", "VerifyMac",
    "Sign", "Verify",
}
IAM_PROPAGATION_OPS = {
    "CreateRole", "UpdateAssumeRolePolicy", "PutRolePolicy", "AttachRolePolicy",
    "DetachRolePolicy", "DeleteRolePolicy",
}
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
    "upgrade", "expect",
}
CRED_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request")
BEDROCK_LOGGING_PATH = "/logging/modelinvocations"


INTERNAL_HEADER = "x-strict-aws-internal"


class ConfigError(ValueError):
    pass


def merge_config(base, patch, path=""):
    """Deep-merge patch into a copy of base; unknown keys are an error."""
    if not isinstance(patch, dict):
        raise ConfigError("config%s must be a JSON object" % (path or ""))
    out = copy.deepcopy(base)
    for key, value in patch.items():
        where = "%s.%s" % (path, key) if path else key
        if key not in out:
            raise ConfigError("unknown config key: %s" % where)
        if isinstance(out[key], dict):
            out[key] = merge_config(out[key], value, where)
        elif isinstance(out[key], bool):
            if not isinstance(value, bool):
                raise ConfigError("%s must be true or false" % where)
            out[key] = value
        elif isinstance(out[key], int):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError("%s must be a non-negative integer" % where)
            out[key] = value
        elif isinstance(out[key], list):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError("%s must be a list of strings" % where)
            out[key] = list(value)
        else:
            out[key] = value
    return out


def apply_config_patch(base, patch):
    if not isinstance(patch, dict):
        raise ConfigError("config must be a JSON object")
    patch = dict(patch)
    rules = {}
    for verb, flag in (("enable", True), ("disable", False)):
        names = patch.pop(verb, None)
        if names is None:
            continue
        if isinstance(names, str):
            names = [names]
        for n in names:
            if n not in RULES:
                raise ConfigError("unknown rule: %s" % n)
            rules[n] = flag
    cfg = merge_config(base, patch)
    if rules:
        cfg = merge_config(cfg, {"rules": rules})
    return cfg


# --------------------------------------------------------------------------------------------
# small helpers: policies, globs, XML


def as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def glob_re(pattern, ignore_case=False):
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("^" + "".join(out) + "$", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_match(pattern, value, ignore_case=False):
    if not isinstance(pattern, str) or not isinstance(value, str):
        return False
    return bool(glob_re(pattern, ignore_case).match(value))


def arn_match(pattern, value):
    """ArnEquals/ArnLike: each of the six colon-separated parts matched separately."""
    p = pattern.split(":", 5)
    v = value.split(":", 5)
    if len(p) != 6 or len(v) != 6:
        return glob_match(pattern, value)
    return all(glob_match(a, b) for a, b in zip(p, v))


def strip_ws(text):
    return re.sub(r"\s", "", text)


def parse_policy(text):
    if text is None:
        return None
    if isinstance(text, dict):
        return text
    try:
        doc = json.loads(text)
    except (ValueError, TypeError):
        try:
            doc = json.loads(urllib.parse.unquote(text))
        except (ValueError, TypeError):
            return None
    return doc if isinstance(doc, dict) else None


def statements(doc):
    if not isinstance(doc, dict):
        return []
    return [s for s in as_list(doc.get("Statement")) if isinstance(s, dict)]


def is_allow(stmt):
    return str(stmt.get("Effect", "")).lower() == "allow"


def action_allows(stmt, action):
    if "Action" not in stmt:
        return False
    return any(glob_match(a, action, ignore_case=True) for a in as_list(stmt.get("Action")))


def resource_allows(stmt, resource):
    if "Resource" not in stmt:
        return False  # NotResource is not modelled
    return any(glob_match(r, resource) for r in as_list(stmt.get("Resource")))


def principal_has_service(stmt, service):
    p = stmt.get("Principal")
    if p == "*":
        return True
    if not isinstance(p, dict):
        return False
    if "*" in as_list(p.get("AWS")):
        return True
    return any(isinstance(s, str) and s.lower() == service.lower() for s in as_list(p.get("Service")))


def principal_aws_values(stmt):
    p = stmt.get("Principal")
    if p == "*":
        return ["*"]
    if not isinstance(p, dict):
        return []
    return [v for v in as_list(p.get("AWS")) if isinstance(v, str)]


def condition_value_matches(op, actual, expected):
    base = op
    if base.endswith("IfExists"):
        base = base[: -len("IfExists")]
    negate = "Not" in base
    base_pos = base.replace("Not", "")
    if base_pos in ("StringEquals", "StringEqualsIgnoreCase"):
        ic = base_pos.endswith("IgnoreCase")
        hit = any(
            isinstance(e, str) and (actual.lower() == e.lower() if ic else actual == e)
            for e in expected
        )
    elif base_pos == "StringLike":
        hit = any(glob_match(e, actual) for e in expected)
    elif base_pos in ("ArnEquals", "ArnLike"):
        hit = any(isinstance(e, str) and arn_match(e, actual) for e in expected)
    else:
        return True  # an operator this layer does not model: not held against the caller
    return (not hit) if negate else hit


def conditions_admit(stmt, context):
    """True when every condition on a key present in context holds.

    context maps lower-cased condition keys to the request's value (None = absent).
    Keys not in context are not modelled and do not count against the request."""
    cond = stmt.get("Condition") or {}
    if not isinstance(cond, dict):
        return False
    for op, kv in cond.items():
        if not isinstance(kv, dict):
            continue
        base = op.split(":", 1)[1] if ":" in op else op  # ForAnyValue:/ForAllValues:
        for key, expected in kv.items():
            k = key.lower()
            if k not in context:
                continue
            actual = context[k]
            if actual is None:
                if base.endswith("IfExists") or base == "Null":
                    continue
                return False
            if not condition_value_matches(base, actual, [str(e) for e in as_list(expected)]):
                return False
    return True


def xml_local(tag):
    return tag.rsplit("}", 1)[-1]


def xml_root(body):
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        return None


def xml_find_all(root, name):
    if root is None:
        return []
    return [el for el in root.iter() if xml_local(el.tag) == name]


def xml_text(root, name):
    for el in xml_find_all(root, name):
        return el.text or ""
    return None


def now_ms():
    return time.monotonic() * 1000.0


def partition_of(region):
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("us-iso-"):
        return "aws-iso"
    if region.startswith("us-isob-"):
        return "aws-iso-b"
    return "aws"


def parse_arn(arn):
    """-> dict(partition, service, region, account, resource) or None"""
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        return None
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return None
    return {
        "partition": parts[1], "service": parts[2], "region": parts[3],
        "account": parts[4], "resource": parts[5],
    }


class Window:
    """A deterministic failure window: the first `calls` matching calls after the trigger fail;
    with ms > 0, every matching call within ms of the trigger fails as well."""

    def __init__(self, spec, start_ms=None):
        self.calls_left = int(spec.get("calls", 0))
        ms = int(spec.get("ms", 0))
        start = now_ms() if start_ms is None else start_ms
        self.deadline = start + ms if ms > 0 else 0.0

    def take(self):
        if self.calls_left > 0:
            self.calls_left -= 1
            return True
        return self.deadline > 0 and now_ms() < self.deadline

    def active(self):
        return self.calls_left > 0 or (self.deadline > 0 and now_ms() < self.deadline)


# --------------------------------------------------------------------------------------------
# requests and responses


class Resp:
    def __init__(self, status, headers=None, body=b""):
        self.status = status
        self.headers = list(headers or [])
        self.body = body if isinstance(body, bytes) else body.encode("utf-8")

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def set_body(self, body):
        self.body = body
        self.headers = [(k, v) for k, v in self.headers if k.lower() != "content-length"]
        self.headers.append(("Content-Length", str(len(body))))

    @property
    def ok(self):
        return 200 <= self.status < 300

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8") or "{}")
        except ValueError:
            return None


def request_id():
    return uuid.uuid4().hex


def json_error(code, message, status=400):
    body = json.dumps({"__type": code, "message": message})
    return Resp(status, [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("x-amzn-ErrorType", code),
        ("x-amzn-RequestId", request_id()),
    ], body)


def rest_json_error(code, message, status=400):
    body = json.dumps({"message": message})
    return Resp(status, [
        ("Content-Type", "application/json"),
        ("x-amzn-ErrorType", code),
        ("x-amzn-RequestId", request_id()),
    ], body)


def query_error(service, code, message, status):
    rid = request_id()
    body = (
        '<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code>'
        "<Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>"
        % (QUERY_NS.get(service, ""), xml_escape(code), xml_escape(message), rid)
    )
    return Resp(status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)], body)


def s3_error(code, message, status=403, head=False):
    rid = request_id()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
        "<RequestId>%s</RequestId><HostId>strict-aws</HostId></Error>"
        % (xml_escape(code), xml_escape(message), rid)
    )
    r = Resp(status, [("Content-Type", "application/xml"), ("x-amz-request-id", rid)],
             b"" if head else body)
    return r


class Req:
    def __init__(self, method, raw_path, headers, body):
        self.method = method
        self.raw_path = raw_path
        self.headers = headers  # list of (name, value)
        self.body = body
        split = urllib.parse.urlsplit(raw_path)
        self.path = split.path
        self.query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        self.akid = self.service = self.region = None
        auth = self.header("authorization") or ""
        m = CRED_RE.search(auth)
        if not m:
            cred = (self.query.get("X-Amz-Credential") or [""])[0]
            m = CRED_RE.search("Credential=" + cred) if cred else None
        if m:
            self.akid, _, self.region, self.service = m.group(1), m.group(2), m.group(3), m.group(4)
        self.op = None
        self.json = None
        self.form = {}
        self._classify()
        self.account = None
        self.caller_arn = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def _classify(self):
        svc = self.service
        if svc in JSON_TARGETS:
            target = self.header("x-amz-target") or ""
            self.op = target.rsplit(".", 1)[-1] if target else None
            try:
                self.json = json.loads(self.body.decode("utf-8") or "{}")
            except ValueError:
                self.json = None
            if not isinstance(self.json, dict):
                self.json = {}
        elif svc in QUERY_NS:
            params = {}
            ctype = (self.header("content-type") or "").lower()
            if self.body and ("x-www-form-urlencoded" in ctype or not ctype):
                try:
                    params = urllib.parse.parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
                except UnicodeDecodeError:
                    params = {}
            for k, v in self.query.items():
                params.setdefault(k, v)
            self.form = {k: v[0] for k, v in params.items()}
            self.op = self.form.get("Action")
        elif svc == "bedrock":
            if self.path.rstrip("/") == BEDROCK_LOGGING_PATH:
                self.op = {
                    "PUT": "PutModelInvocationLoggingConfiguration",
                    "GET": "GetModelInvocationLoggingConfiguration",
                    "DELETE": "DeleteModelInvocationLoggingConfiguration",
                }.get(self.method)
            try:
                self.json = json.loads(self.body.decode("utf-8") or "{}") if self.body else {}
            except ValueError:
                self.json = {}
            if not isinstance(self.json, dict):
                self.json = {}
        elif svc == "s3":
            self.op = self._s3_op()

    def s3_bucket(self):
        parts = self.path.lstrip("/").split("/", 1)
        return urllib.parse.unquote(parts[0]) if parts and parts[0] else None

    def s3_key(self):
        parts = self.path.lstrip("/").split("/", 1)
        return urllib.parse.unquote(parts[1]) if len(parts) > 1 and parts[1] else None

    def _s3_op(self):
        bucket, key = self.s3_bucket(), self.s3_key()
        subs = [k for k in self.query if k not in ("x-id",) and not k.startswith("X-Amz-")]
        verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "HEAD": "Head", "POST": "Post"}.get(
            self.method, self.method.title())
        if bucket is None:
            return "ListBuckets" if self.method == "GET" else verb + "Root"
        if key is None:
            if not subs:
                return {
                    "PUT": "CreateBucket", "DELETE": "DeleteBucket", "HEAD": "HeadBucket",
                    "GET": "ListObjects",
                }.get(self.method, verb + "Bucket")
            sub = sorted(subs)[0]
            if self.method == "GET" and "list-type" in subs:
                return "ListObjectsV2"
            return verb + "Bucket" + sub[:1].upper() + sub[1:]
        return verb + "Object" + ("".join(s[:1].upper() + s[1:] for s in sorted(subs)) if subs else "")


# --------------------------------------------------------------------------------------------
# the proxy


class StrictProxy:
    def __init__(self, upstream, config=None, quiet=False):
        u = urllib.parse.urlsplit(upstream)
        if u.scheme != "http" or not u.hostname:
            raise SystemExit("--upstream must be http://HOST:PORT")
        self.upstream = upstream
        self.up_host = u.hostname
        self.up_port = u.port or 80
        self.quiet = quiet
        self.lock = threading.RLock()
        self.base_config = config or copy.deepcopy(DEFAULT_CONFIG)
        self.config = copy.deepcopy(self.base_config)
        self.reset_state()

    # ---- state ----------------------------------------------------------------------------

    def reset_state(self, keep_config=False):
        with self.lock:
            if not keep_config:
                self.config = copy.deepcopy(self.base_config)
            self.log = []
            self.identities = {}          # (akid, x-moto-account-id) -> (account, arn)
            self.prop_regional = {}       # (account, region) -> Window
            self.prop_iam = {}            # account -> (seq, start_ms)
            self.prop_iam_seen = {}       # (account, region) -> (seq, Window)
            self.prop_seq = 0
            self.kms_new_keys = {}        # (account, region, key_id) -> Window   (ops)
            self.kms_list_lag = {}        # (account, region, key_id) -> Window   (ListKeys)
            self.iam_new_roles = {}       # (account, role_name) -> Window
            self.org_last_call = {}       # account -> monotonic time of its last Organizations call
            self.sqs_deleted = {}         # (account, region, queue name) -> monotonic time of DeleteQueue
            self.logs_key_changed = {}    # (account, region, key_id) -> Window
            self.logs_kms_overlay = {}    # (account, region, group) -> key arn or None (hidden)

    def enabled(self, rule):
        return bool(self.config["rules"].get(rule))

    def window_spec(self, name):
        return self.config["windows"][name]

    def fire(self, rule, req, message):
        entry = {
            "rule": rule, "operation": req.op, "service": req.service, "region": req.region,
            "account": req.account, "message": message, "ts": round(time.time(), 3),
        }
        with self.lock:
            self.log.append(entry)
        if not self.quiet:
            sys.stderr.write("strict-aws: %s fired on %s %s (%s/%s): %s\n" % (
                rule, req.service, req.op, req.account, req.region, message))
            sys.stderr.flush()

    # ---- upstream -------------------------------------------------------------------------

    def forward(self, method, raw_path, headers, body):
        conn = http.client.HTTPConnection(self.up_host, self.up_port, timeout=60)
        try:
            conn.putrequest(method, raw_path, skip_host=True, skip_accept_encoding=True)
            has_host = False
            for k, v in headers:
                lk = k.lower()
                if lk in HOP_BY_HOP or lk == "content-length":
                    continue
                if lk == "host":
                    has_host = True
                conn.putheader(k, v)
            if not has_host:
                conn.putheader("Host", "%s:%d" % (self.up_host, self.up_port))
            if body or method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders()
            if body:
                conn.send(body)
            r = conn.getresponse()
            data = r.read() if method != "HEAD" else b""
            return Resp(r.status, r.getheaders(), data)
        finally:
            conn.close()

    def moto(self, service, region, account, method, path, body=b"", headers=None, akid="strict-aws"):
        """The proxy's own (unsigned, well-formed) request to moto in a given account."""
        h = [
            ("Host", "%s:%d" % (self.up_host, self.up_port)),
            ("Authorization",
             "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=host, "
             "Signature=0" % (akid, time.strftime("%Y%m%d", time.gmtime()), region, service)),
            ("X-Amz-Date", time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())),
            # Marks the proxy's own reads and writes, so moto's request recorder can tell them
            # from the client's (tests count the client's write calls).
            (INTERNAL_HEADER, "1"),
        ]
        if account:
            h.append(("x-moto-account-id", account))
        h.extend(headers or [])
        if isinstance(body, str):
            body = body.encode("utf-8")
        return self.forward(method, path, h, body)

    def moto_json(self, service, region, account, op, payload):
        r = self.moto(service, region, account, "POST", "/", json.dumps(payload), [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", JSON_TARGETS[service] + op),
        ])
        return r, (r.json() or {})

    def moto_query(self, service, region, account, action, params=None, akid="strict-aws"):
        form = {"Action": action, "Version": QUERY_VERSION[service]}
        form.update(params or {})
        r = self.moto(service, region, account, "POST", "/", urllib.parse.urlencode(form), [
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
        ], akid=akid)
        return r, xml_root(r.body)

    def moto_s3(self, region, account, method, path, body=b"", headers=None):
        return self.moto("s3", region, account, method, path, body, headers)

    # ---- identity -------------------------------------------------------------------------

    def resolve_identity(self, req):
        if not req.akid:
            return
        hdr = req.header("x-moto-account-id")
        key = (req.akid, hdr)
        with self.lock:
            cached = self.identities.get(key)
        if cached is None:
            r, root = self.moto_query("sts", "us-east-1", hdr, "GetCallerIdentity", akid=req.akid)
            account = xml_text(root, "Account") if r.ok else None
            arn = xml_text(root, "Arn") if r.ok else None
            cached = (hdr or account or "123456789012", arn or "arn:aws:iam::%s:root" % (hdr or account or "123456789012"))
            with self.lock:
                self.identities[key] = cached
        req.account, req.caller_arn = cached

    # ---- moto state readers ---------------------------------------------------------------

    def describe_key(self, key_ref, region, account):
        """-> KeyMetadata dict or None. key_ref: id, key ARN, alias name or alias ARN."""
        a = parse_arn(key_ref)
        if a:
            region, account = a["region"] or region, a["account"] or account
        r, data = self.moto_json("kms", region, account, "DescribeKey", {"KeyId": key_ref})
        if not r.ok:
            return None
        return data.get("KeyMetadata")

    def key_policy(self, key_id, region, account):
        r, data = self.moto_json("kms", region, account, "GetKeyPolicy",
                                 {"KeyId": key_id, "PolicyName": "default"})
        return parse_policy(data.get("Policy")) if r.ok else None

    def get_role(self, role_name, account):
        """-> (role_arn, trust_policy_dict) or None"""
        r, root = self.moto_query("iam", "us-east-1", account, "GetRole", {"RoleName": role_name})
        if not r.ok:
            return None
        doc = xml_text(root, "AssumeRolePolicyDocument")
        return xml_text(root, "Arn"), parse_policy(urllib.parse.unquote(doc or ""))

    def role_inline_policies(self, role_name, account):
        """-> {name: document text (decoded)} or None if the role is missing"""
        r, root = self.moto_query("iam", "us-east-1", account, "ListRolePolicies",
                                  {"RoleName": role_name, "MaxItems": "1000"})
        if not r.ok:
            return None
        out = {}
        names_el = xml_find_all(root, "PolicyNames")
        names = [m.text for el in names_el for m in el if xml_local(m.tag) == "member"]
        for name in names:
            r2, root2 = self.moto_query("iam", "us-east-1", account, "GetRolePolicy",
                                        {"RoleName": role_name, "PolicyName": name})
            if r2.ok:
                out[name] = urllib.parse.unquote(xml_text(root2, "PolicyDocument") or "")
        return out

    def role_attached_policies(self, role_name, account):
        r, root = self.moto_query("iam", "us-east-1", account, "ListAttachedRolePolicies",
                                  {"RoleName": role_name, "MaxItems": "1000"})
        docs = []
        if not r.ok:
            return docs
        for arn_el in xml_find_all(root, "PolicyArn"):
            parn = arn_el.text
            r2, root2 = self.moto_query("iam", "us-east-1", account, "GetPolicy", {"PolicyArn": parn})
            if not r2.ok:
                continue
            ver = xml_text(root2, "DefaultVersionId") or "v1"
            r3, root3 = self.moto_query("iam", "us-east-1", account, "GetPolicyVersion",
                                        {"PolicyArn": parn, "VersionId": ver})
            if r3.ok:
                docs.append(parse_policy(urllib.parse.unquote(xml_text(root3, "Document") or "")))
        return [d for d in docs if d]

    def bucket_owned_by(self, bucket, account, region):
        r = self.moto_s3(region, account, "GET", "/")
        if not r.ok:
            return False
        return bucket in [el.text for el in xml_find_all(xml_root(r.body), "Name")]

    def bucket_exists(self, bucket, account, region):
        r = self.moto_s3(region, account, "HEAD", "/" + urllib.parse.quote(bucket))
        return r.status != 404

    def log_group_key(self, group, region, account):
        """-> (exists, kmsKeyId or None), honouring the AssociateKmsKey overlay."""
        r, data = self.moto_json("logs", region, account, "DescribeLogGroups",
                                 {"logGroupNamePrefix": group})
        if not r.ok:
            return False, None
        for g in data.get("logGroups") or []:
            if g.get("logGroupName") == group:
                key = g.get("kmsKeyId")
                with self.lock:
                    ov = self.logs_kms_overlay.get((account, region, group), "absent")
                if ov != "absent":
                    key = ov
                return True, key
        return False, None

    # ---- dispatch -------------------------------------------------------------------------

    def handle(self, req):
        if req.service and req.op:
            self.resolve_identity(req)
            handler = getattr(self, "pre_" + req.service, None)
            if handler is not None:
                answer = handler(req)
                if answer is not None:
                    return answer
        resp = self.forward(req.method, req.raw_path, req.headers, req.body)
        if req.service and req.op:
            post = getattr(self, "post_" + req.service, None)
            if post is not None:
                resp = post(req, resp) or resp
        return resp

    # ==== Organizations =====================================================================

    def pre_organizations(self, req):
        """organizations_rate: calls from one account closer together than the limit are
        throttled, as AWS Organizations does (TooManyRequestsException)."""
        if not self.enabled("organizations_rate"):
            return None
        gap = self.config["limits"]["organizations_min_interval_ms"] / 1000.0
        now = time.monotonic()
        with self.lock:
            last = self.org_last_call.get(req.account)
            self.org_last_call[req.account] = now
        if last is not None and now - last < gap:
            msg = "AWS Organizations can't complete your request because the rate of requests exceeded the limit"
            self.fire("organizations_rate", req, "%s (%.0f ms after the previous call)" % (msg, 1000 * (now - last)))
            return json_error("TooManyRequestsException", msg, 400)
        return None

    # ==== SQS ===============================================================================

    def pre_sqs(self, req):
        """sqs_queue_deleted_recently: CreateQueue under the name of a queue deleted less than
        `sqs_deleted_queue_name_ms` ago fails, as SQS does for 60 s (QueueDeletedRecently)."""
        if req.op != "CreateQueue" or not self.enabled("sqs_queue_deleted_recently"):
            return None
        name = (req.json or {}).get("QueueName")
        gap = self.config["limits"]["sqs_deleted_queue_name_ms"] / 1000.0
        with self.lock:
            deleted = self.sqs_deleted.get((req.account, req.region, name))
        if deleted is None or time.monotonic() - deleted >= gap:
            return None
        msg = "You must wait 60 seconds after deleting a queue before you can create another with the same name."
        self.fire("sqs_queue_deleted_recently", req, "%s (%s)" % (msg, name))
        resp = json_error("QueueDeletedRecently", msg, 400)
        resp.headers.append(("x-amzn-query-error", "AWS.SimpleQueueService.QueueDeletedRecently;Sender"))
        return resp

    def post_sqs(self, req, resp):
        if req.op == "DeleteQueue" and resp.ok:
            url = (req.json or {}).get("QueueUrl") or ""
            name = url.rstrip("/").rsplit("/", 1)[-1]
            with self.lock:
                self.sqs_deleted[(req.account, req.region, name)] = time.monotonic()
        return None

    # ==== CloudTrail ========================================================================

    def pre_cloudtrail(self, req):
        if req.op == "PutEventSelectors" and self.enabled("cloudtrail_types"):
            return self.rule_cloudtrail_types(req)
        return None

    def rule_cloudtrail_types(self, req):
        allowed = DATA_EVENT_TYPES | set(self.config["options"]["cloudtrail_extra_types"])
        for i, sel in enumerate(as_list(req.json.get("AdvancedEventSelectors"))):
            if not isinstance(sel, dict):
                continue
            for fs in as_list(sel.get("FieldSelectors")):
                if not isinstance(fs, dict) or fs.get("Field") != "resources.type":
                    continue
                others = [k for k in ("StartsWith", "EndsWith", "NotEquals", "NotStartsWith",
                                      "NotEndsWith") if fs.get(k)]
                if others:
                    msg = ("The field resources.type in advanced event selector %d only supports "
                           "the Equals operator." % i)
                    self.fire("cloudtrail_types", req, msg)
                    return json_error("InvalidEventSelectorsException", msg)
                for value in as_list(fs.get("Equals")):
                    if value not in allowed:
                        msg = ("Invalid value %s for field resources.type in advanced event "
                               "selector %d: not a resource type of the CloudTrail data events "
                               "table." % (value, i))
                        self.fire("cloudtrail_types", req, msg)
                        return json_error("InvalidEventSelectorsException", msg)
        basic_ok = {"AWS::S3::Object", "AWS::Lambda::Function", "AWS::DynamoDB::Table"}
        for sel in as_list(req.json.get("EventSelectors")):
            if not isinstance(sel, dict):
                continue
            for dr in as_list(sel.get("DataResources")):
                if isinstance(dr, dict) and dr.get("Type") not in basic_ok:
                    msg = "Invalid DataResource type %s in basic event selectors." % dr.get("Type")
                    self.fire("cloudtrail_types", req, msg)
                    return json_error("InvalidEventSelectorsException", msg)
        return None

    # ==== KMS ===============================================================================

    def _kms_key_id_of(self, ref):
        """The key id a reference names literally (id or key ARN), else None."""
        if not isinstance(ref, str):
            return None
        a = parse_arn(ref)
        if a:
            return a["resource"][4:] if a["resource"].startswith("key/") else None
        if ref.startswith("alias/"):
            return None
        return ref

    def pre_kms(self, req):
        op, body = req.op, req.json
        if op in ("CreateAlias", "EnableKeyRotation", "DescribeKey") and self.enabled("kms_eventual_consistency"):
            ref = body.get("TargetKeyId") if op == "CreateAlias" else body.get("KeyId")
            kid = self._kms_key_id_of(ref)
            if kid:
                with self.lock:
                    w = self.kms_new_keys.get((req.account, req.region, kid))
                    hit = w.take() if w else False
                if hit:
                    arn = "arn:%s:kms:%s:%s:key/%s" % (partition_of(req.region), req.region, req.account, kid)
                    msg = "Key '%s' does not exist" % arn
                    self.fire("kms_eventual_consistency", req, msg)
                    return json_error("NotFoundException", msg)
        if op in KMS_CRYPTO_OPS and self.enabled("kms_key_state"):
            refs = [body.get("KeyId"), body.get("DestinationKeyId"), body.get("SourceKeyId")]
            for ref in refs:
                if not ref:
                    continue
                answer = self.rule_kms_key_state(req, ref, json_error)
                if answer is not None:
                    return answer
        return None

    def rule_kms_key_state(self, req, key_ref, make_error):
        meta = self.describe_key(key_ref, req.region, req.account)
        if not meta:
            return None  # moto / other rules answer for a missing key
        state = meta.get("KeyState")
        arn = meta.get("Arn") or key_ref
        if state == "Disabled":
            msg = "%s is disabled." % arn
            self.fire("kms_key_state", req, msg)
            return make_error("DisabledException", msg)
        if state == "PendingDeletion":
            msg = "%s is pending deletion." % arn
            self.fire("kms_key_state", req, msg)
            return make_error("KMSInvalidStateException", msg)
        return None

    def post_kms(self, req, resp):
        if not resp.ok:
            return None
        if req.op == "CreateKey":
            meta = (resp.json() or {}).get("KeyMetadata") or {}
            kid = meta.get("KeyId")
            if kid:
                k = (req.account, req.region, kid)
                with self.lock:
                    if self.enabled("kms_eventual_consistency"):
                        self.kms_new_keys[k] = Window(self.window_spec("kms_eventual_consistency"))
                        self.kms_list_lag[k] = Window(self.window_spec("kms_list_keys_lag"))
                    if self.enabled("logs_kms_access"):
                        self.logs_key_changed[k] = Window(self.window_spec("logs_kms_access"))
            self.trigger_propagation(req.account, req.region)
        elif req.op == "PutKeyPolicy":
            meta = self.describe_key(req.json.get("KeyId"), req.region, req.account)
            if meta and meta.get("KeyId") and self.enabled("logs_kms_access"):
                with self.lock:
                    self.logs_key_changed[(req.account, req.region, meta["KeyId"])] = Window(
                        self.window_spec("logs_kms_access"))
            self.trigger_propagation(req.account, req.region)
        elif req.op == "ListKeys" and self.enabled("kms_eventual_consistency"):
            data = resp.json()
            if not isinstance(data, dict):
                return None
            hidden = set()
            with self.lock:
                for (acct, region, kid), w in list(self.kms_list_lag.items()):
                    if acct == req.account and region == req.region and w.take():
                        hidden.add(kid)
            if hidden:
                keys = data.get("Keys") or []
                data["Keys"] = [k for k in keys if k.get("KeyId") not in hidden]
                if len(data["Keys"]) != len(keys):
                    self.fire("kms_eventual_consistency", req,
                              "ListKeys omits new key(s) %s" % ", ".join(sorted(hidden)))
                    resp.set_body(json.dumps(data).encode("utf-8"))
        return resp

    # ==== IAM ===============================================================================

    def pre_iam(self, req):
        op, f = req.op, req.form
        if op in ("GetRole", "PutRolePolicy") and self.enabled("iam_eventual_consistency"):
            name = f.get("RoleName")
            with self.lock:
                w = self.iam_new_roles.get((req.account, name))
                hit = w.take() if w else False
            if hit:
                msg = "The role with name %s cannot be found." % name
                self.fire("iam_eventual_consistency", req, msg)
                return query_error("iam", "NoSuchEntity", msg, 404)
        if self.enabled("iam_size_limits"):
            if op in ("CreateRole", "UpdateAssumeRolePolicy"):
                doc = f.get("AssumeRolePolicyDocument" if op == "CreateRole" else "PolicyDocument")
                if doc is not None:
                    answer = self._malformed(req, doc)
                    if answer is not None:
                        return answer
                    limit = self.config["limits"]["trust_policy_chars"]
                    if len(strip_ws(doc)) > limit:
                        msg = "Cannot exceed quota for ACLSizePerRole: %d" % limit
                        self.fire("iam_size_limits", req, msg)
                        return query_error("iam", "LimitExceeded", msg, 409)
            elif op == "PutRolePolicy":
                doc = f.get("PolicyDocument")
                if doc is not None:
                    answer = self._malformed(req, doc)
                    if answer is not None:
                        return answer
                    existing = self.role_inline_policies(f.get("RoleName"), req.account)
                    if existing is not None:
                        existing[f.get("PolicyName")] = doc
                        total = sum(len(strip_ws(d)) for d in existing.values())
                        limit = self.config["limits"]["role_inline_policy_chars"]
                        if total > limit:
                            msg = "Maximum policy size of %d bytes exceeded for role %s" % (
                                limit, f.get("RoleName"))
                            self.fire("iam_size_limits", req, msg)
                            return query_error("iam", "LimitExceeded", msg, 409)
        return None

    def _malformed(self, req, doc):
        try:
            parsed = json.loads(doc)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            msg = "This policy contains invalid Json"
        elif "Statement" not in parsed:
            msg = "Syntax errors in policy."
        else:
            return None
        self.fire("iam_size_limits", req, msg)
        return query_error("iam", "MalformedPolicyDocument", msg, 400)

    def post_iam(self, req, resp):
        if not resp.ok:
            return None
        if req.op == "CreateRole" and self.enabled("iam_eventual_consistency"):
            with self.lock:
                self.iam_new_roles[(req.account, req.form.get("RoleName"))] = Window(
                    self.window_spec("iam_eventual_consistency"))
        if req.op in IAM_PROPAGATION_OPS:
            self.trigger_propagation(req.account, None)
        return None

    # ==== STS ===============================================================================

    def pre_sts(self, req):
        if req.op == "AssumeRole" and self.enabled("sts_assume_role_trust"):
            return self.rule_sts_assume_role_trust(req)
        return None

    def rule_sts_assume_role_trust(self, req):
        role_arn = req.form.get("RoleArn") or ""
        caller = req.caller_arn or ""
        ext = req.form.get("ExternalId")

        def deny(why):
            msg = "User: %s is not authorized to perform: sts:AssumeRole on resource: %s" % (caller, role_arn)
            self.fire("sts_assume_role_trust", req, msg + " (" + why + ")")
            return query_error("sts", "AccessDenied", msg, 403)

        a = parse_arn(role_arn)
        if not a or not a["resource"].startswith("role/"):
            return deny("not a role ARN")
        role_name = a["resource"].rsplit("/", 1)[-1]
        got = self.get_role(role_name, a["account"])
        if got is None:
            return deny("role does not exist")
        _, trust = got
        acct = req.account or ""
        part = partition_of(req.region or "us-east-1")
        admitted = {"*", acct, "arn:%s:iam::%s:root" % (part, acct), caller}
        m = re.match(r"^arn:([^:]+):sts::(\d+):assumed-role/([^/]+)/", caller)
        if m:
            admitted.add("arn:%s:iam::%s:role/%s" % (m.group(1), m.group(2), m.group(3)))
        m = re.match(r"^arn:([^:]+):sts::(\d+):user/(.+)$", caller)
        if m:
            admitted.add("arn:%s:iam::%s:user/%s" % (m.group(1), m.group(2), m.group(3)))
        context = {
            "sts:externalid": ext,
            "aws:principalaccount": acct,
            "aws:principalarn": caller,
        }
        principal_ok = False
        for st in statements(trust):
            if not is_allow(st) or not action_allows(st, "sts:AssumeRole"):
                continue
            # a role principal may carry a path; an assumed-role caller ARN does not
            values = [re.sub(r":role/.*/", ":role/", v) for v in principal_aws_values(st)]
            if not any(v in admitted for v in values):
                continue
            principal_ok = True
            if conditions_admit(st, context):
                return None
        return deny("ExternalId does not match the trust policy" if principal_ok
                    else "the trust policy does not admit the caller")

    # ==== CloudWatch Logs ===================================================================

    def pre_logs(self, req):
        op, body = req.op, req.json
        implement = op in ("AssociateKmsKey", "DisassociateKmsKey") and self.enabled("logs_associate_kms_key")
        if implement:  # a missing group is reported before anything about the key
            group = body.get("logGroupName")
            if not group:
                return json_error("InvalidParameterException", "logGroupName is required")
            if not self.log_group_key(group, req.region, req.account)[0]:
                return json_error("ResourceNotFoundException", "The specified log group does not exist.")
        if op in ("CreateLogGroup", "AssociateKmsKey") and body.get("kmsKeyId"):
            key_ref = body.get("kmsKeyId")
            group = body.get("logGroupName") or ""
            if self.enabled("kms_key_state"):
                answer = self.rule_kms_key_state(req, key_ref, json_error)
                if answer is not None:
                    return answer
            if self.enabled("logs_kms_access"):
                answer = self.rule_logs_kms_access(req, key_ref, group)
                if answer is not None:
                    return answer
        if implement:
            return self.rule_logs_associate_kms_key(req)
        return None

    def rule_logs_kms_access(self, req, key_ref, group):
        part = partition_of(req.region)
        group_arn = "arn:%s:logs:%s:%s:log-group:%s" % (part, req.region, req.account, group)
        msg = ("The specified KMS key does not exist or is not allowed to be used with Arn '%s'"
               % group_arn)

        def deny(why):
            self.fire("logs_kms_access", req, msg + " (" + why + ")")
            return json_error("AccessDeniedException", msg)

        a = parse_arn(key_ref)
        if not a or a["service"] != "kms" or not a["resource"].startswith("key/"):
            return deny("kmsKeyId must be the ARN of a KMS key")
        if a["region"] != req.region:
            return deny("the key is in another region")
        meta = self.describe_key(key_ref, req.region, req.account)
        if not meta:
            return deny("the key does not exist")
        policy = self.key_policy(meta["KeyId"], a["region"], a["account"])
        service = "logs.%s.amazonaws.com" % req.region
        context = {"kms:encryptioncontext:aws:logs:arn": group_arn}
        needed = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey",
                  "kms:DescribeKey"]
        for action in needed:
            if not any(is_allow(st) and principal_has_service(st, service)
                       and action_allows(st, action) and conditions_admit(st, context)
                       for st in statements(policy)):
                return deny("the key policy does not allow %s to use %s for this log group"
                            % (service, action))
        with self.lock:
            w = self.logs_key_changed.get((a["account"], a["region"], meta["KeyId"]))
            hit = w.take() if w else False
        if hit:
            return deny("the key was created or its policy changed moments ago")
        return None

    def rule_logs_associate_kms_key(self, req):
        group = req.json.get("logGroupName")
        with self.lock:
            if req.op == "AssociateKmsKey":
                key = req.json.get("kmsKeyId")
                if not key:
                    return json_error("InvalidParameterException", "kmsKeyId is required")
                self.logs_kms_overlay[(req.account, req.region, group)] = key
            else:
                self.logs_kms_overlay[(req.account, req.region, group)] = None
        self.fire("logs_associate_kms_key", req, "%s %s (implemented by the strict layer)" % (req.op, group))
        return Resp(200, [("Content-Type", "application/x-amz-json-1.1"),
                          ("x-amzn-RequestId", request_id())], b"{}")

    def post_logs(self, req, resp):
        if not resp.ok:
            return None
        if req.op in ("DeleteLogGroup", "CreateLogGroup"):
            with self.lock:
                self.logs_kms_overlay.pop((req.account, req.region, req.json.get("logGroupName")), None)
        elif req.op == "DescribeLogGroups":
            with self.lock:
                overlay = {g: k for (a, r, g), k in self.logs_kms_overlay.items()
                           if a == req.account and r == req.region}
            if not overlay:
                return None
            data = resp.json()
            if not isinstance(data, dict):
                return None
            for g in data.get("logGroups") or []:
                name = g.get("logGroupName")
                if name in overlay:
                    if overlay[name] is None:
                        g.pop("kmsKeyId", None)
                    else:
                        g["kmsKeyId"] = overlay[name]
            resp.set_body(json.dumps(data).encode("utf-8"))
            return resp
        return None

    # ==== S3 ================================================================================

    def pre_s3(self, req):
        bucket = req.s3_bucket()
        if req.op == "CreateBucket" and self.enabled("s3_new_bucket_defaults"):
            # us-east-1 answers 200 to a repeated CreateBucket by the owner: no new defaults then
            req.bucket_existed = self.bucket_exists(bucket, req.account, req.region)
        if bucket is None or req.op == "CreateBucket":
            return None
        head = req.method == "HEAD"
        expected = req.header("x-amz-expected-bucket-owner")
        if expected is None and self.enabled("s3_require_expected_owner"):
            msg = ("Access Denied: the strict layer requires ExpectedBucketOwner "
                   "(x-amz-expected-bucket-owner) on every bucket call (%s %s)" % (req.op, bucket))
            self.fire("s3_require_expected_owner", req, msg)
            return s3_error("AccessDenied", msg, 403, head)
        if expected is not None and self.enabled("s3_expected_owner"):
            if not re.fullmatch(r"\d{12}", expected):
                msg = "Access Denied"
                self.fire("s3_expected_owner", req, "x-amz-expected-bucket-owner %r is not an account id" % expected)
                return s3_error("AccessDenied", msg, 403, head)
            if not self.bucket_owned_by(bucket, expected, req.region) and \
                    self.bucket_exists(bucket, req.account, req.region):
                msg = "Access Denied"
                self.fire("s3_expected_owner", req,
                          "bucket %s is not owned by expected owner %s" % (bucket, expected))
                return s3_error("AccessDenied", msg, 403, head)
        return None

    def post_s3(self, req, resp):
        if not resp.ok:
            return None
        if req.op == "CreateBucket" and self.enabled("s3_new_bucket_defaults") \
                and not getattr(req, "bucket_existed", False):
            self.rule_s3_new_bucket_defaults(req)
        elif req.op == "PutBucketPolicy":
            self.trigger_propagation(req.account, req.region)
        return None

    def rule_s3_new_bucket_defaults(self, req):
        bucket = urllib.parse.quote(req.s3_bucket())
        region, account = req.region, req.account
        xml_h = [("Content-Type", "application/xml")]
        enc = ('<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
               "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>"
               "</ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled>"
               "</Rule></ServerSideEncryptionConfiguration>")
        pab = ('<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
               "<BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls>"
               "<BlockPublicPolicy>true</BlockPublicPolicy>"
               "<RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>")
        ownership = req.header("x-amz-object-ownership") or "BucketOwnerEnforced"
        own = ('<OwnershipControls xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule>'
               "<ObjectOwnership>%s</ObjectOwnership></Rule></OwnershipControls>" % xml_escape(ownership))
        results = []
        for sub, body in (("encryption", enc), ("publicAccessBlock", pab), ("ownershipControls", own)):
            r = self.moto_s3(region, account, "PUT", "/%s?%s" % (bucket, sub), body, xml_h)
            results.append("%s=%d" % (sub, r.status))
        self.fire("s3_new_bucket_defaults", req, "bucket %s: SSE-S3, public access block, %s (%s)"
                  % (req.s3_bucket(), ownership, ", ".join(results)))

    # ==== Bedrock ===========================================================================

    def pre_bedrock(self, req):
        if req.op != "PutModelInvocationLoggingConfiguration":
            return None
        if self.enabled("bedrock_validation"):
            problem = self.bedrock_problem(req)
            if problem is not None:
                msg, detail = problem
                self.fire("bedrock_validation", req, msg + " [" + detail + "]")
                return rest_json_error("ValidationException", msg)
        if self.enabled("permission_propagation") and self.take_propagation(req.account, req.region):
            cfg = (req.json.get("loggingConfig") or {})
            cw = cfg.get("cloudWatchConfig") or {}
            if cw:
                msg = ("Failed to validate permissions for log group: %s, with role: %s. Verify "
                       "the IAM role permissions are correct." % (cw.get("logGroupName"), cw.get("roleArn")))
            else:
                msg = ("Failed to validate permissions for the S3 bucket: %s"
                       % ((cfg.get("s3Config") or {}).get("bucketName")))
            self.fire("permission_propagation", req, msg)
            return rest_json_error("ValidationException", msg)
        return None

    def bedrock_problem(self, req):
        """-> (AWS-like message, detail) for the first problem found, else None."""
        cfg = req.json.get("loggingConfig")
        if not isinstance(cfg, dict):
            return None
        account, region = req.account, req.region
        part = partition_of(region)
        source_arn = "arn:%s:bedrock:%s:%s:model-invocation-logging" % (part, region, account)
        ctx = {"aws:sourceaccount": account, "aws:sourcearn": source_arn}

        def bucket_problem(s3cfg, large):
            bucket = s3cfg.get("bucketName")
            prefix = (s3cfg.get("keyPrefix") or "").strip("/")
            fail = "Failed to validate permissions for the S3 bucket: %s" % bucket
            if not bucket:
                return None
            if not self.bucket_owned_by(bucket, account, region):
                if self.bucket_exists(bucket, account, region):
                    return fail, "bucket is not owned by account %s" % account
                return fail, "bucket does not exist"
            r = self.moto_s3(region, account, "GET", "/%s?location" % urllib.parse.quote(bucket))
            loc = (xml_text(xml_root(r.body), "LocationConstraint") or "us-east-1") if r.ok else None
            if loc and loc != region:
                return fail, "bucket is in %s, not %s" % (loc, region)
            r = self.moto_s3(region, account, "GET", "/%s?ownershipControls" % urllib.parse.quote(bucket))
            own = xml_text(xml_root(r.body), "ObjectOwnership") if r.ok else None
            if own != "BucketOwnerEnforced":
                return fail, "bucket has ACLs enabled (object ownership %s, not BucketOwnerEnforced)" % (own or "unset")
            r = self.moto_s3(region, account, "GET", "/%s?policy" % urllib.parse.quote(bucket))
            policy = parse_policy(r.body.decode("utf-8", "replace")) if r.ok else None
            if large:
                obj = "%s/amazon-bedrock-logs-permission-check" % prefix if prefix else \
                    "amazon-bedrock-logs-permission-check"
            else:
                obj = "%sAWSLogs/%s/BedrockModelInvocationLogs/amazon-bedrock-logs-permission-check" % (
                    prefix + "/" if prefix else "", account)
            obj_arn = "arn:%s:s3:::%s/%s" % (part, bucket, obj)
            found = [st for st in statements(policy)
                     if is_allow(st) and principal_has_service(st, "bedrock.amazonaws.com")
                     and action_allows(st, "s3:PutObject")]
            if not found:
                return fail, "bucket policy has no Allow of s3:PutObject for bedrock.amazonaws.com"
            found = [st for st in found if resource_allows(st, obj_arn)]
            if not found:
                return fail, "bucket policy statement for bedrock.amazonaws.com does not cover %s" % obj_arn
            conds = [st for st in found if self._has_condition_keys(st, ("aws:SourceAccount", "aws:SourceArn"))]
            if not conds:
                return fail, "bucket policy statement for bedrock.amazonaws.com lacks aws:SourceAccount and aws:SourceArn conditions"
            if not any(conditions_admit(st, ctx) for st in conds):
                return fail, "bucket policy conditions do not admit account %s / %s" % (account, source_arn)
            r = self.moto_s3(region, account, "GET", "/%s?encryption" % urllib.parse.quote(bucket))
            root = xml_root(r.body) if r.ok else None
            if xml_text(root, "SSEAlgorithm") == "aws:kms":
                key_ref = xml_text(root, "KMSMasterKeyID")
                if key_ref:
                    kp = key_problem(key_ref, fail, "bucket default encryption key")
                    if kp:
                        return kp
                    meta = self.describe_key(key_ref, region, account)
                    kparn = parse_arn(meta.get("Arn")) or {}
                    policy = self.key_policy(meta["KeyId"], kparn.get("region") or region,
                                             kparn.get("account") or account)
                    if not any(is_allow(st) and principal_has_service(st, "bedrock.amazonaws.com")
                               and action_allows(st, "kms:GenerateDataKey") and conditions_admit(st, ctx)
                               for st in statements(policy)):
                        return fail, "key policy of %s does not allow bedrock.amazonaws.com kms:GenerateDataKey" % meta.get("Arn")
            return None

        def key_problem(key_ref, fail, what):
            meta = self.describe_key(key_ref, region, account)
            if not meta:
                return fail, "%s %s does not exist" % (what, key_ref)
            state = meta.get("KeyState")
            if state == "Disabled":
                return fail, "%s %s is disabled (DisabledException)" % (what, meta.get("Arn"))
            if state == "PendingDeletion":
                return fail, "%s %s is pending deletion (KMSInvalidStateException)" % (what, meta.get("Arn"))
            return None

        s3cfg = cfg.get("s3Config")
        if isinstance(s3cfg, dict) and s3cfg.get("bucketName"):
            p = bucket_problem(s3cfg, False)
            if p:
                return p
        cw = cfg.get("cloudWatchConfig")
        if isinstance(cw, dict) and (cw.get("logGroupName") or cw.get("roleArn")):
            group, role_arn = cw.get("logGroupName") or "", cw.get("roleArn") or ""
            fail = ("Failed to validate permissions for log group: %s, with role: %s. Verify the "
                    "IAM role permissions are correct." % (group, role_arn))
            exists, key = self.log_group_key(group, region, account)
            if not exists:
                return fail, "log group does not exist"
            if key:
                kp = key_problem(key, fail, "log group key")
                if kp:
                    return kp
            a = parse_arn(role_arn)
            if not a or not a["resource"].startswith("role/"):
                return fail, "roleArn is not a role ARN"
            if a["account"] != account:
                return fail, "role is in account %s, not %s" % (a["account"], account)
            role_name = a["resource"].rsplit("/", 1)[-1]
            got = self.get_role(role_name, account)
            if got is None:
                return fail, "role does not exist"
            _, trust = got
            trusting = [st for st in statements(trust)
                        if is_allow(st) and principal_has_service(st, "bedrock.amazonaws.com")
                        and action_allows(st, "sts:AssumeRole")]
            if not trusting:
                return fail, "role trust policy has no Allow of sts:AssumeRole for bedrock.amazonaws.com"
            if not any(conditions_admit(st, ctx) for st in trusting):
                return fail, "role trust policy conditions do not admit account %s / %s" % (account, source_arn)
            if self.config["options"]["bedrock_check_role_policy"]:
                stream_arn = "arn:%s:logs:%s:%s:log-group:%s:log-stream:aws/bedrock/modelinvocations" % (
                    part, region, account, group)
                docs = [parse_policy(d) for d in (self.role_inline_policies(role_name, account) or {}).values()]
                docs += self.role_attached_policies(role_name, account)
                for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
                    if not any(is_allow(st) and action_allows(st, action) and resource_allows(st, stream_arn)
                               for d in docs for st in statements(d)):
                        return fail, "role policies do not allow %s on %s" % (action, stream_arn)
            large = cw.get("largeDataDeliveryS3Config")
            if isinstance(large, dict) and large.get("bucketName"):
                p = bucket_problem(large, True)
                if p:
                    return p
        return None

    @staticmethod
    def _has_condition_keys(stmt, keys):
        cond = stmt.get("Condition") or {}
        present = set()
        if isinstance(cond, dict):
            for kv in cond.values():
                if isinstance(kv, dict):
                    present.update(k.lower() for k in kv)
        return all(k.lower() in present for k in keys)

    # ---- permission propagation -----------------------------------------------------------

    def trigger_propagation(self, account, region):
        if not self.enabled("permission_propagation"):
            return
        spec = self.window_spec("permission_propagation")
        with self.lock:
            if region is None:  # IAM: global, every region sees its own window
                self.prop_seq += 1
                self.prop_iam[account] = (self.prop_seq, now_ms())
            else:
                self.prop_regional[(account, region)] = Window(spec)

    def take_propagation(self, account, region):
        spec = self.window_spec("permission_propagation")
        hit = False
        with self.lock:
            w = self.prop_regional.get((account, region))
            if w is not None and w.take():
                hit = True
            trig = self.prop_iam.get(account)
            if trig is not None:
                seq, start = trig
                seen = self.prop_iam_seen.get((account, region))
                if seen is None or seen[0] != seq:
                    seen = (seq, Window(spec, start_ms=start))
                    self.prop_iam_seen[(account, region)] = seen
                if seen[1].take():
                    hit = True
        return hit

    # ---- control API ----------------------------------------------------------------------

    def control(self, method, raw_path, body):
        split = urllib.parse.urlsplit(raw_path)
        path = split.path.rstrip("/")
        query = urllib.parse.parse_qs(split.query)

        def reply(status, obj):
            return Resp(status, [("Content-Type", "application/json")], json.dumps(obj, indent=1))

        if path == "/strict-api/health":
            return reply(200, {"ok": True, "upstream": self.upstream})
        if path == "/strict-api/reset" and method == "POST":
            keep = (query.get("keep-config") or ["false"])[0].lower() in ("1", "true", "yes")
            self.reset_state(keep_config=keep)
            return reply(200, {"reset": True, "kept_config": keep})
        if path == "/strict-api/config":
            if method == "GET":
                with self.lock:
                    return reply(200, self.config)
            if method == "POST":
                try:
                    patch = json.loads(body.decode("utf-8") or "{}")
                    with self.lock:
                        self.config = apply_config_patch(self.config, patch)
                        return reply(200, self.config)
                except (ValueError, ConfigError) as e:
                    return reply(400, {"error": str(e)})
        if path == "/strict-api/log" and method == "GET":
            want = (query.get("rule") or [None])[0]
            with self.lock:
                lines = [json.dumps(e) for e in self.log if want is None or e["rule"] == want]
            return Resp(200, [("Content-Type", "application/x-ndjson")],
                        "".join(line + "\n" for line in lines))
        return reply(404, {"error": "unknown control endpoint %s %s" % (method, path)})


# --------------------------------------------------------------------------------------------
# HTTP server


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "strict-aws"
    proxy = None  # set on the subclass

    def log_message(self, fmt, *args):  # quiet access log
        pass

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers
                        t = self.rfile.readline()
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self):
        try:
            body = self._read_body()
            if self.path.startswith("/strict-api/"):
                resp = self.proxy.control(self.command, self.path, body)
            else:
                req = Req(self.command, self.path, list(self.headers.items()), body)
                resp = self.proxy.handle(req)
        except (ConnectionError, OSError, http.client.HTTPException) as e:
            resp = Resp(502, [("Content-Type", "text/plain")], "strict-aws: upstream error: %s" % e)
        except Exception as e:  # a bug in a rule must not hang the client
            import traceback
            traceback.print_exc()
            resp = Resp(500, [("Content-Type", "text/plain")], "strict-aws: internal error: %r" % (e,))
        self._write(resp)

    def _write(self, resp):
        self.send_response_only(resp.status)
        if resp.status in (204, 304) or resp.status < 200:
            for k, v in resp.headers:  # no body, no Content-Length (RFC 9110)
                if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.end_headers()
            self.wfile.flush()
            return
        is_head = self.command == "HEAD"
        have_len = False
        for k, v in resp.headers:
            lk = k.lower()
            if lk in HOP_BY_HOP:
                continue
            if lk == "content-length":
                if not is_head:
                    continue
                have_len = True
            self.send_header(k, v)
        if not is_head:
            self.send_header("Content-Length", str(len(resp.body)))
        elif not have_len:
            self.send_header("Content-Length", "0")
        self.end_headers()
        if not is_head and resp.body:
            self.wfile.write(resp.body)
        self.wfile.flush()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _serve


def main(argv=None):
    ap = argparse.ArgumentParser(description="strict AWS layer in front of moto (tests only)")
    ap.add_argument("--upstream", required=True, help="moto URL, e.g. http://127.0.0.1:5000")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    ap.add_argument("--port-file", help="write the bound port to this file")
    ap.add_argument("--config", help="initial config patch: JSON text or @file")
    ap.add_argument("--quiet", action="store_true", help="do not print fired rules on stderr")
    args = ap.parse_args(argv)

    config = copy.deepcopy(DEFAULT_CONFIG)
    if args.config:
        text = args.config
        if text.startswith("@"):
            with open(text[1:], encoding="utf-8") as fh:
                text = fh.read()
        try:
            config = apply_config_patch(config, json.loads(text))
        except (ValueError, ConfigError) as e:
            raise SystemExit("--config: %s" % e)

    proxy = StrictProxy(args.upstream, config=config, quiet=args.quiet)
    handler = type("BoundHandler", (Handler,), {"proxy": proxy})
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    server.daemon_threads = True
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    sys.stdout.write("listening http://127.0.0.1:%d\n" % port)
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
