"""Tests of the strict AWS layer (tests/strict/strict_aws.py): boto3 -> proxy -> moto.

Each rule has at least one test where AWS would reject and the proxy rejects with the error
code the SDK models, and one where a correct request passes through.
Run: tests/strict/run.sh  (or: .venv/bin/python -m pytest -q tests/strict)
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
PROXY = HERE / "strict_aws.py"
ACCT = "123456789012"
OTHER = "222233334444"
REGION = "us-east-1"


# ------------------------------------------------------------------------------------------
# the stack: moto + proxy on free loopback ports, for the whole session


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def moto_command(port):
    exe = Path(sys.executable).parent / "moto_server"
    if os.environ.get("MOTO_SERVER"):
        return [os.environ["MOTO_SERVER"], "-H", "127.0.0.1", "-p", str(port)]
    if exe.exists():
        return [str(exe), "-H", "127.0.0.1", "-p", str(port)]
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


def http_call(url, method="GET", body=None):
    req = urllib.request.Request(url, method=method, data=body)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.read()


class Stack:
    def __init__(self, moto_url, proxy_url, proxy_stdout_line, port_file_value):
        self.moto_url = moto_url
        self.proxy_url = proxy_url
        self.stdout_line = proxy_stdout_line
        self.port_file_value = port_file_value

    def reset(self):
        http_call(self.moto_url + "/moto-api/reset", "POST")
        http_call(self.proxy_url + "/strict-api/reset", "POST")

    def config(self, patch=None):
        if patch is None:
            return json.loads(http_call(self.proxy_url + "/strict-api/config")[1])
        return json.loads(http_call(self.proxy_url + "/strict-api/config", "POST",
                                    json.dumps(patch).encode())[1])

    def log(self, rule=None):
        url = self.proxy_url + "/strict-api/log" + ("?rule=" + rule if rule else "")
        text = http_call(url)[1].decode()
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def client(self, service, region=REGION, account=None, creds=None):
        cfg = botocore.config.Config(
            retries={"total_max_attempts": 1},
            s3={"addressing_style": "path"},
            connect_timeout=5, read_timeout=20,
        )
        creds = creds or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        c = boto3.client(service, region_name=region, endpoint_url=self.proxy_url, config=cfg, **creds)
        if account:
            def add(request, **_):
                request.headers["x-moto-account-id"] = account
            c.meta.events.register("before-send.*.*", add)
        return c


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("strict")
    moto_port = free_port()
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    moto_log = open(tmp / "moto.log", "wb")
    moto = subprocess.Popen(moto_command(moto_port), stdout=moto_log, stderr=subprocess.STDOUT, env=env)
    proxy = None
    try:
        moto_url = "http://127.0.0.1:%d" % moto_port
        deadline = time.time() + 30
        while True:
            try:
                http_call(moto_url + "/moto-api/data.json")
                break
            except OSError:
                if time.time() > deadline or moto.poll() is not None:
                    raise RuntimeError("moto did not start; see %s" % (tmp / "moto.log"))
                time.sleep(0.1)
        port_file = tmp / "proxy.port"
        proxy_err = open(tmp / "proxy.err", "wb")
        proxy = subprocess.Popen(
            [sys.executable, str(PROXY), "--upstream", moto_url, "--port", "0",
             "--port-file", str(port_file)],
            stdout=subprocess.PIPE, stderr=proxy_err, env=env)
        line = proxy.stdout.readline().decode().strip()
        assert line.startswith("listening http://127.0.0.1:"), line
        proxy_url = line.split(" ", 1)[1]
        yield Stack(moto_url, proxy_url, line, port_file.read_text().strip())
    finally:
        for p in (proxy, moto):
            if p is not None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
        moto_log.close()


@pytest.fixture(autouse=True)
def clean(stack):
    stack.reset()
    yield


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def retry(fn, codes, attempts=6):
    """Call fn, retrying on the given error codes (the way the operator retries in place)."""
    failures = 0
    for i in range(attempts):
        try:
            return fn(), failures
        except ClientError as e:
            if e.response["Error"]["Code"] not in codes or i == attempts - 1:
                raise
            failures += 1
    raise AssertionError("unreachable")


# ------------------------------------------------------------------------------------------
# policies and a correctly configured account


def key_policy(region=REGION, account=ACCT, group="/aws/bedrock/mil", logs=True, bedrock=True):
    st = [{"Sid": "root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:root" % account},
           "Action": "kms:*", "Resource": "*"}]
    if logs:
        st.append({
            "Sid": "logs", "Effect": "Allow",
            "Principal": {"Service": "logs.%s.amazonaws.com" % region},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                       "kms:Describe*"],
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                      "arn:aws:logs:%s:%s:log-group:%s" % (region, account, group)}},
        })
    if bedrock:
        st.append({
            "Sid": "bedrock", "Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"},
            "Action": "kms:GenerateDataKey", "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account},
                          "ArnLike": {"aws:SourceArn": "arn:aws:bedrock:%s:%s:*" % (region, account)}},
        })
    return json.dumps({"Version": "2012-10-17", "Statement": st})


def bedrock_conditions(region=REGION, account=ACCT):
    return {"StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": "arn:aws:bedrock:%s:%s:*" % (region, account)}}


def bucket_policy(bucket, prefix="bedrock", account=ACCT, region=REGION, conditions=True,
                  large_prefix=None):
    st = [{
        "Sid": "AmazonBedrockLogsWrite", "Effect": "Allow",
        "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::%s/%s/AWSLogs/%s/BedrockModelInvocationLogs/*" % (bucket, prefix, account),
    }]
    if large_prefix is not None:
        st.append({
            "Sid": "AmazonBedrockLargeDataWrite", "Effect": "Allow",
            "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::%s/%s/*" % (bucket, large_prefix),
        })
    if conditions:
        for s in st:
            s["Condition"] = bedrock_conditions(region, account)
    return json.dumps({"Version": "2012-10-17", "Statement": st})


def trust_policy(service="bedrock.amazonaws.com", region=REGION, account=ACCT):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole",
        "Condition": bedrock_conditions(region, account)}]})


def role_policy(group, region=REGION, account=ACCT):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": "arn:aws:logs:%s:%s:log-group:%s:log-stream:aws/bedrock/modelinvocations"
                    % (region, account, group)}]})


class Account:
    """A correctly configured account+region for Bedrock invocation logging, built through the
    proxy with all rules on (retrying in place where the strict layer's windows say so)."""

    def __init__(self, stack, region=REGION):
        self.stack, self.region = stack, region
        self.kms = stack.client("kms", region)
        self.s3 = stack.client("s3", region)
        self.logs = stack.client("logs", region)
        self.iam = stack.client("iam", region)
        self.bedrock = stack.client("bedrock", region)
        self.bucket = "bedrock-logs-%s-%s" % (ACCT, region)
        self.group = "/aws/bedrock/mil"
        self.role = "BedrockLoggingRole"
        self.role_arn = "arn:aws:iam::%s:role/%s" % (ACCT, self.role)
        meta = self.kms.create_key(Policy=key_policy(region, group=self.group))["KeyMetadata"]
        self.key_id, self.key_arn = meta["KeyId"], meta["Arn"]
        kw = {} if region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": region}}
        self.s3.create_bucket(Bucket=self.bucket, **kw)
        self.s3.put_bucket_encryption(Bucket=self.bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": self.key_arn}, "BucketKeyEnabled": True}]})
        self.s3.put_bucket_policy(Bucket=self.bucket, Policy=bucket_policy(
            self.bucket, region=region, large_prefix="large"))
        retry(lambda: self.logs.create_log_group(logGroupName=self.group, kmsKeyId=self.key_arn),
              {"AccessDeniedException"})
        try:
            self.iam.create_role(RoleName=self.role, AssumeRolePolicyDocument=trust_policy(region=region))
        except ClientError as e:
            if e.response["Error"]["Code"] != "EntityAlreadyExists":
                raise
        retry(lambda: self.iam.put_role_policy(RoleName=self.role, PolicyName="logs",
                                               PolicyDocument=role_policy(self.group, region)),
              {"NoSuchEntity"})

    def logging_config(self, **over):
        cfg = {
            "s3Config": {"bucketName": self.bucket, "keyPrefix": "bedrock"},
            "cloudWatchConfig": {
                "logGroupName": self.group, "roleArn": self.role_arn,
                "largeDataDeliveryS3Config": {"bucketName": self.bucket, "keyPrefix": "large"},
            },
            "textDataDeliveryEnabled": True, "imageDataDeliveryEnabled": True,
            "embeddingDataDeliveryEnabled": True,
        }
        cfg.update(over)
        return cfg

    def put(self, cfg=None):
        return self.bedrock.put_model_invocation_logging_configuration(
            loggingConfig=cfg or self.logging_config())


# ------------------------------------------------------------------------------------------
# start-up and control API


def test_startup_announces_port_on_stdout_and_port_file(stack):
    port = stack.proxy_url.rsplit(":", 1)[1]
    assert stack.stdout_line == "listening http://127.0.0.1:%s" % port
    assert stack.port_file_value == port
    status, body = http_call(stack.proxy_url + "/strict-api/health")
    assert status == 200 and json.loads(body)["ok"] is True


def test_control_api_config_toggle_log_and_reset(stack):
    cfg = stack.config()
    assert cfg["rules"]["iam_eventual_consistency"] is True
    assert cfg["rules"]["s3_require_expected_owner"] is False
    assert cfg["windows"]["permission_propagation"] == {"calls": 2, "ms": 0}
    iam = stack.client("iam")
    # on: fires once, logged with rule / operation / region / account
    iam.create_role(RoleName="r1", AssumeRolePolicyDocument=trust_policy())
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName="r1")
    assert code_of(e) == "NoSuchEntity"
    entry = stack.log()[-1]
    assert {k: entry[k] for k in ("rule", "operation", "region", "account")} == {
        "rule": "iam_eventual_consistency", "operation": "GetRole", "region": "us-east-1",
        "account": ACCT}
    # off: the same sequence passes straight through
    new = stack.config({"rules": {"iam_eventual_consistency": False}})
    assert new["rules"]["iam_eventual_consistency"] is False
    iam.create_role(RoleName="r2", AssumeRolePolicyDocument=trust_policy())
    assert iam.get_role(RoleName="r2")["Role"]["RoleName"] == "r2"
    assert len(stack.log("iam_eventual_consistency")) == 1
    # shorthand and errors
    assert stack.config({"enable": ["iam_eventual_consistency"]})["rules"]["iam_eventual_consistency"]
    with pytest.raises(urllib.error.HTTPError) as err:
        stack.config({"rules": {"no_such_rule": True}})
    assert err.value.code == 400
    with pytest.raises(urllib.error.HTTPError):
        stack.config({"windows": {"permission_propagation": {"calls": -1}}})
    # reset clears the log and restores the defaults (moto untouched)
    stack.config({"disable": ["iam_eventual_consistency"]})
    http_call(stack.proxy_url + "/strict-api/reset", "POST")
    assert stack.log() == []
    assert stack.config()["rules"]["iam_eventual_consistency"] is True
    assert iam.get_role(RoleName="r2")["Role"]["RoleName"] == "r2"
    # keep-config
    stack.config({"disable": ["iam_eventual_consistency"]})
    http_call(stack.proxy_url + "/strict-api/reset?keep-config=true", "POST")
    assert stack.config()["rules"]["iam_eventual_consistency"] is False


def test_windows_in_ms(stack):
    stack.config({"windows": {"iam_eventual_consistency": {"calls": 0, "ms": 300}}})
    iam = stack.client("iam")
    iam.create_role(RoleName="timed", AssumeRolePolicyDocument=trust_policy())
    for _ in range(2):
        with pytest.raises(ClientError) as e:
            iam.get_role(RoleName="timed")
        assert code_of(e) == "NoSuchEntity"
    time.sleep(0.35)
    iam.get_role(RoleName="timed")


def test_passthrough_unchanged(stack):
    """Requests no rule is about reach moto as sent (including object bodies and HEAD)."""
    s3 = stack.client("s3")
    s3.create_bucket(Bucket="plain-bucket")
    s3.put_object(Bucket="plain-bucket", Key="a/b c.txt", Body=b"x" * 100000)
    assert s3.get_object(Bucket="plain-bucket", Key="a/b c.txt")["Body"].read() == b"x" * 100000
    assert s3.head_object(Bucket="plain-bucket", Key="a/b c.txt")["ContentLength"] == 100000
    assert stack.client("sts").get_caller_identity()["Account"] == ACCT
    assert stack.client("bedrock").get_model_invocation_logging_configuration()["ResponseMetadata"][
        "HTTPStatusCode"] == 200


# ------------------------------------------------------------------------------------------
# wire format: what the Rust SDK reads (x-amzn-ErrorType / __type / <Error><Code>)


def raw(stack, service, method, path, body=b"", headers=None, akid="testing"):
    u = stack.proxy_url.split("//", 1)[1]
    host, port = u.split(":")
    h = {"Authorization": "AWS4-HMAC-SHA256 Credential=%s/20260101/us-east-1/%s/aws4_request, "
                          "SignedHeaders=host, Signature=0" % (akid, service),
         "X-Amz-Date": "20260101T000000Z"}
    h.update(headers or {})
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    c.close()
    return out


def test_wire_formats(stack):
    kms = stack.client("kms")
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    st, h, body = raw(stack, "kms", "POST", "/", json.dumps({"KeyId": kid}).encode(), {
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.DescribeKey"})
    assert st == 400 and h["x-amzn-errortype"] == "NotFoundException"
    assert json.loads(body)["__type"] == "NotFoundException" and "message" in json.loads(body)

    stack.client("iam").create_role(RoleName="wire", AssumeRolePolicyDocument=trust_policy())
    st, h, body = raw(stack, "iam", "POST", "/", b"Action=GetRole&Version=2010-05-08&RoleName=wire",
                      {"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 404
    text = body.decode()
    assert text.startswith("<ErrorResponse") and "<Type>Sender</Type><Code>NoSuchEntity</Code>" in text
    assert "<RequestId>" in text

    st, h, body = raw(stack, "bedrock", "PUT", "/logging/modelinvocations", json.dumps(
        {"loggingConfig": {"s3Config": {"bucketName": "missing-bucket-x"}}}).encode(),
        {"Content-Type": "application/json"})
    assert st == 400 and h["x-amzn-errortype"] == "ValidationException"
    assert set(json.loads(body)) == {"message"}

    stack.config({"enable": ["s3_require_expected_owner"]})
    stack.client("s3").create_bucket(Bucket="wire-bucket")
    st, h, body = raw(stack, "s3", "GET", "/wire-bucket?policy")
    assert st == 403 and b"<Error><Code>AccessDenied</Code><Message>" in body


# ------------------------------------------------------------------------------------------
# 1. cloudtrail_types


def make_trail(stack):
    stack.client("s3").create_bucket(Bucket="trail-bucket-x")
    ct = stack.client("cloudtrail")
    ct.create_trail(Name="org-trail", S3BucketName="trail-bucket-x")
    return ct


def selector(rtype, op="Equals"):
    return {"Name": "bedrock " + rtype, "FieldSelectors": [
        {"Field": "eventCategory", "Equals": ["Data"]},
        {"Field": "resources.type", op: [rtype]}]}


def test_cloudtrail_rejects_unknown_resource_type(stack):
    ct = make_trail(stack)
    with pytest.raises(ClientError) as e:
        ct.put_event_selectors(TrailName="org-trail", AdvancedEventSelectors=[
            selector("AWS::Bedrock::Model"), selector("AWS::Bedrock::Prompt")])
    assert code_of(e) == "InvalidEventSelectorsException"
    assert "AWS::Bedrock::Prompt" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        ct.put_event_selectors(TrailName="org-trail", AdvancedEventSelectors=[
            selector("AWS::Bedrock::", op="StartsWith")])
    assert code_of(e) == "InvalidEventSelectorsException"
    assert ct.get_event_selectors(TrailName="org-trail").get("AdvancedEventSelectors") in (None, [])


def test_cloudtrail_accepts_table_types(stack):
    ct = make_trail(stack)
    types = ["AWS::Bedrock::PromptVersion", "AWS::Bedrock::AgentAlias", "AWS::Bedrock::Model",
             "AWS::BedrockAgentCore::Runtime", "AWS::BedrockAgentCore::Memory", "AWS::S3::Object"]
    ct.put_event_selectors(TrailName="org-trail", AdvancedEventSelectors=[selector(t) for t in types])
    got = ct.get_event_selectors(TrailName="org-trail")["AdvancedEventSelectors"]
    assert [s["FieldSelectors"][1]["Equals"][0] for s in got] == types
    stack.config({"disable": ["cloudtrail_types"]})
    ct.put_event_selectors(TrailName="org-trail", AdvancedEventSelectors=[selector("AWS::Bedrock::Prompt")])


# ------------------------------------------------------------------------------------------
# 2. bedrock_validation and permission_propagation


def test_bedrock_correct_configuration_passes(stack):
    acct = Account(stack)
    stack.config({"disable": ["permission_propagation"]})
    acct.put()
    got = acct.bedrock.get_model_invocation_logging_configuration()["loggingConfig"]
    assert got["s3Config"]["bucketName"] == acct.bucket
    assert got["cloudWatchConfig"]["roleArn"] == acct.role_arn
    assert stack.log("bedrock_validation") == []


S3_FAIL = "Failed to validate permissions for the S3 bucket: "
CW_FAIL = "Failed to validate permissions for log group: "


def _m_missing_bucket(a):
    return a.logging_config(s3Config={"bucketName": "no-such-bucket-xyz"}), S3_FAIL + "no-such-bucket-xyz"


def _m_policy_no_conditions(a):
    a.s3.put_bucket_policy(Bucket=a.bucket, Policy=bucket_policy(a.bucket, conditions=False, large_prefix="large"))
    return None, S3_FAIL + a.bucket


def _m_policy_no_statement(a):
    a.s3.delete_bucket_policy(Bucket=a.bucket)
    return None, S3_FAIL + a.bucket


def _m_policy_wrong_prefix(a):
    return a.logging_config(s3Config={"bucketName": a.bucket, "keyPrefix": "other"}), S3_FAIL + a.bucket


def _m_policy_other_account_condition(a):
    a.s3.put_bucket_policy(Bucket=a.bucket, Policy=bucket_policy(a.bucket, account=ACCT).replace(
        '"aws:SourceAccount": "%s"' % ACCT, '"aws:SourceAccount": "999988887777"'))
    return None, S3_FAIL + a.bucket


def _m_acls_enabled(a):
    a.s3.put_bucket_ownership_controls(Bucket=a.bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    return None, S3_FAIL + a.bucket


def _m_key_policy_no_bedrock(a):
    a.kms.put_key_policy(KeyId=a.key_id, PolicyName="default", Policy=key_policy(bedrock=False))
    return None, S3_FAIL + a.bucket


def _m_bucket_key_disabled(a):
    a.kms.disable_key(KeyId=a.key_id)
    return None, S3_FAIL + a.bucket


def _m_bucket_key_pending_deletion(a):
    a.kms.schedule_key_deletion(KeyId=a.key_id, PendingWindowInDays=7)
    return None, S3_FAIL + a.bucket


def _m_missing_log_group(a):
    cfg = a.logging_config()
    cfg["cloudWatchConfig"]["logGroupName"] = "/no/such/group"
    return cfg, CW_FAIL + "/no/such/group, with role: " + a.role_arn


def _m_missing_role(a):
    cfg = a.logging_config()
    cfg["cloudWatchConfig"]["roleArn"] = "arn:aws:iam::%s:role/NoSuchRole" % ACCT
    return cfg, CW_FAIL + a.group + ", with role: arn:aws:iam::%s:role/NoSuchRole" % ACCT


def _m_trust_wrong_service(a):
    a.iam.update_assume_role_policy(RoleName=a.role, PolicyDocument=trust_policy(service="ec2.amazonaws.com"))
    return None, CW_FAIL + a.group


def _m_trust_other_region(a):
    a.iam.update_assume_role_policy(RoleName=a.role, PolicyDocument=trust_policy(region="eu-west-1"))
    return None, CW_FAIL + a.group


def _m_role_policy_missing(a):
    a.iam.delete_role_policy(RoleName=a.role, PolicyName="logs")
    return None, CW_FAIL + a.group


def _m_large_bucket_not_granted(a):
    a.s3.put_bucket_policy(Bucket=a.bucket, Policy=bucket_policy(a.bucket))  # no large-data statement
    return None, S3_FAIL + a.bucket


MUTATIONS = [
    _m_missing_bucket, _m_policy_no_conditions, _m_policy_no_statement, _m_policy_wrong_prefix,
    _m_policy_other_account_condition, _m_acls_enabled, _m_key_policy_no_bedrock,
    _m_bucket_key_disabled, _m_bucket_key_pending_deletion, _m_missing_log_group,
    _m_missing_role, _m_trust_wrong_service, _m_trust_other_region, _m_role_policy_missing,
    _m_large_bucket_not_granted,
]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.__name__[3:] for m in MUTATIONS])
def test_bedrock_rejects_misconfiguration(stack, mutation):
    acct = Account(stack)
    stack.config({"disable": ["permission_propagation"]})
    cfg, message = mutation(acct)
    with pytest.raises(ClientError) as e:
        acct.put(cfg)
    assert code_of(e) == "ValidationException"
    assert e.value.response["Error"]["Message"].startswith(message)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert acct.bedrock.get_model_invocation_logging_configuration()["loggingConfig"] == {}
    assert [x["rule"] for x in stack.log("bedrock_validation")] == ["bedrock_validation"]


def test_bedrock_validation_off_passes_through(stack):
    stack.config({"disable": ["bedrock_validation", "permission_propagation"]})
    b = stack.client("bedrock")
    b.put_model_invocation_logging_configuration(loggingConfig={"s3Config": {"bucketName": "no-such-bucket-xyz"}})
    assert b.get_model_invocation_logging_configuration()["loggingConfig"]["s3Config"]["bucketName"] == "no-such-bucket-xyz"


def test_permission_propagation_window(stack):
    acct = Account(stack)  # CreateRole / PutRolePolicy / PutBucketPolicy / CreateKey just happened
    for _ in range(2):
        with pytest.raises(ClientError) as e:
            acct.put()
        assert code_of(e) == "ValidationException"
        assert e.value.response["Error"]["Message"] == (
            "Failed to validate permissions for log group: %s, with role: %s. Verify the IAM role "
            "permissions are correct." % (acct.group, acct.role_arn))
    acct.put()  # the window (2 calls) is over
    acct.put()
    # a policy change opens it again
    acct.iam.put_role_policy(RoleName=acct.role, PolicyName="logs", PolicyDocument=role_policy(acct.group))
    _, failures = retry(acct.put, {"ValidationException"})
    assert failures == 2
    assert len(stack.log("permission_propagation")) == 4


def test_permission_propagation_is_per_region_for_regional_changes(stack):
    east = Account(stack, "us-east-1")
    retry(east.put, {"ValidationException"})
    # a bucket policy change in eu-west-1 does not delay Bedrock in us-east-1
    s3w = stack.client("s3", "eu-west-1")
    s3w.create_bucket(Bucket="west-bucket-x", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3w.put_bucket_policy(Bucket="west-bucket-x", Policy=bucket_policy("west-bucket-x", region="eu-west-1"))
    east.put()
    # an IAM change delays every region, each for its own 2 puts
    east.iam.update_assume_role_policy(RoleName=east.role, PolicyDocument=trust_policy())
    _, failures = retry(east.put, {"ValidationException"})
    assert failures == 2


def test_permission_propagation_off(stack):
    acct = Account(stack)
    stack.config({"disable": ["permission_propagation"]})
    acct.put()


# ------------------------------------------------------------------------------------------
# 3. kms_key_state and kms_eventual_consistency


def test_kms_key_state_rejects_disabled_and_pending_deletion(stack):
    kms = stack.client("kms")
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    assert kms.encrypt(KeyId=kid, Plaintext=b"hi")["CiphertextBlob"]
    kms.disable_key(KeyId=kid)
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=kid, Plaintext=b"hi")
    assert code_of(e) == "DisabledException"
    assert e.value.response["Error"]["Message"].endswith("is disabled.")
    with pytest.raises(ClientError) as e:
        kms.generate_data_key(KeyId=kid, KeySpec="AES_256")
    assert code_of(e) == "DisabledException"
    kms.enable_key(KeyId=kid)
    kms.generate_data_key(KeyId=kid, KeySpec="AES_256")
    kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    with pytest.raises(ClientError) as e:
        kms.generate_data_key(KeyId=kid, KeySpec="AES_256")
    assert code_of(e) == "KMSInvalidStateException"


def test_kms_key_state_on_logs(stack):
    kms, logs = stack.client("kms"), stack.client("logs")
    meta = kms.create_key(Policy=key_policy(group="/g/disabled"))["KeyMetadata"]
    arn = meta["Arn"]
    kms.disable_key(KeyId=meta["KeyId"])  # moto's DisableKey wants the id
    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName="/g/disabled", kmsKeyId=arn)
    assert code_of(e) == "DisabledException"
    kms.enable_key(KeyId=meta["KeyId"])
    retry(lambda: logs.create_log_group(logGroupName="/g/disabled", kmsKeyId=arn), {"AccessDeniedException"})


def test_kms_key_state_off(stack):
    stack.config({"disable": ["kms_key_state"]})
    kms = stack.client("kms")
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=kid)
    kms.encrypt(KeyId=kid, Plaintext=b"moto lets it through")


def test_kms_eventual_consistency_after_create_key(stack):
    kms = stack.client("kms")
    meta = kms.create_key()["KeyMetadata"]
    kid, arn = meta["KeyId"], meta["Arn"]
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName="alias/bedrock-logging", TargetKeyId=kid)
    assert code_of(e) == "NotFoundException"
    kms.create_alias(AliasName="alias/bedrock-logging", TargetKeyId=kid)  # window (1 call) over
    kms.enable_key_rotation(KeyId=arn)
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyId"] == kid
    assert kms.get_key_rotation_status(KeyId=kid)["KeyRotationEnabled"] is True


def test_kms_eventual_consistency_describe_and_rotation(stack):
    kms = stack.client("kms")
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId=arn)
    assert code_of(e) == "NotFoundException"
    kms.describe_key(KeyId=arn)
    arn2 = kms.create_key()["KeyMetadata"]["Arn"]
    with pytest.raises(ClientError) as e:
        kms.enable_key_rotation(KeyId=arn2)
    assert code_of(e) == "NotFoundException"
    kms.enable_key_rotation(KeyId=arn2)


def test_kms_list_keys_lags(stack):
    kms = stack.client("kms")
    stack.config({"disable": ["kms_eventual_consistency"]})
    old = kms.create_key()["KeyMetadata"]["KeyId"]
    stack.config({"enable": ["kms_eventual_consistency"]})
    new = kms.create_key()["KeyMetadata"]["KeyId"]
    first = [k["KeyId"] for k in kms.list_keys()["Keys"]]
    assert old in first and new not in first
    second = [k["KeyId"] for k in kms.list_keys()["Keys"]]
    assert old in second and new in second
    # another region's ListKeys does not consume the window
    newer = kms.create_key()["KeyMetadata"]["KeyId"]
    stack.client("kms", "eu-west-1").list_keys()
    assert newer not in [k["KeyId"] for k in kms.list_keys()["Keys"]]


def test_kms_eventual_consistency_off(stack):
    stack.config({"disable": ["kms_eventual_consistency"]})
    kms = stack.client("kms")
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/x", TargetKeyId=kid)
    assert kid in [k["KeyId"] for k in kms.list_keys()["Keys"]]


# ------------------------------------------------------------------------------------------
# 4. iam_eventual_consistency and iam_size_limits


def test_iam_eventual_consistency_after_create_role(stack):
    iam = stack.client("iam")
    iam.create_role(RoleName="fresh", AssumeRolePolicyDocument=trust_policy())
    with pytest.raises(ClientError) as e:
        iam.put_role_policy(RoleName="fresh", PolicyName="p", PolicyDocument=role_policy("/g"))
    assert code_of(e) == "NoSuchEntity"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    iam.put_role_policy(RoleName="fresh", PolicyName="p", PolicyDocument=role_policy("/g"))
    iam.get_role(RoleName="fresh")
    # other roles are not affected
    stack.config({"disable": ["iam_eventual_consistency"]})
    iam.create_role(RoleName="older", AssumeRolePolicyDocument=trust_policy())
    stack.config({"enable": ["iam_eventual_consistency"]})
    iam.create_role(RoleName="fresh2", AssumeRolePolicyDocument=trust_policy())
    iam.get_role(RoleName="older")


def big_trust(n_sources, pad=0):
    arns = ["arn:aws:bedrock:region-%03d:%s:*" % (i, ACCT) for i in range(n_sources)]
    doc = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCT}, "ArnLike": {"aws:SourceArn": arns}}}]}
    return json.dumps(doc, indent=pad) if pad else json.dumps(doc, separators=(",", ":"))


def test_iam_trust_policy_size_limit(stack):
    stack.config({"disable": ["iam_eventual_consistency"]})
    iam = stack.client("iam")
    too_big = big_trust(60)
    assert len("".join(too_big.split())) > 2048
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName="big", AssumeRolePolicyDocument=too_big)
    assert code_of(e) == "LimitExceeded"
    assert e.value.response["Error"]["Message"] == "Cannot exceed quota for ACLSizePerRole: 2048"
    # whitespace does not count: a pretty-printed document under the limit passes
    ok = big_trust(38, pad=8)
    assert len(ok) > 2048 >= len("".join(ok.split()))
    iam.create_role(RoleName="big", AssumeRolePolicyDocument=ok)
    with pytest.raises(ClientError) as e:
        iam.update_assume_role_policy(RoleName="big", PolicyDocument=too_big)
    assert code_of(e) == "LimitExceeded"
    iam.update_assume_role_policy(RoleName="big", PolicyDocument=trust_policy())


def inline_policy(n):
    res = ["arn:aws:logs:us-east-1:%s:log-group:/group/%04d:*" % (ACCT, i) for i in range(n)]
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": res}]})


def test_iam_inline_policy_total_size_limit(stack):
    stack.config({"disable": ["iam_eventual_consistency"]})
    iam = stack.client("iam")
    iam.create_role(RoleName="pol", AssumeRolePolicyDocument=trust_policy())
    six_k = inline_policy(95)
    assert 5500 < len(six_k) < 6500
    iam.put_role_policy(RoleName="pol", PolicyName="a", PolicyDocument=six_k)
    iam.put_role_policy(RoleName="pol", PolicyName="a", PolicyDocument=six_k)  # replaces, still 6k
    with pytest.raises(ClientError) as e:
        iam.put_role_policy(RoleName="pol", PolicyName="b", PolicyDocument=six_k)
    assert code_of(e) == "LimitExceeded"
    assert e.value.response["Error"]["Message"] == "Maximum policy size of 10240 bytes exceeded for role pol"
    iam.put_role_policy(RoleName="pol", PolicyName="b", PolicyDocument=inline_policy(40))
    assert sorted(iam.list_role_policies(RoleName="pol")["PolicyNames"]) == ["a", "b"]


def test_iam_malformed_policy_document(stack):
    stack.config({"disable": ["iam_eventual_consistency"]})
    iam = stack.client("iam")
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName="bad", AssumeRolePolicyDocument="{not json")
    assert code_of(e) == "MalformedPolicyDocument"
    iam.create_role(RoleName="bad", AssumeRolePolicyDocument=trust_policy())
    with pytest.raises(ClientError) as e:
        iam.put_role_policy(RoleName="bad", PolicyName="p", PolicyDocument="Statement: nope")
    assert code_of(e) == "MalformedPolicyDocument"


def test_iam_size_limits_off(stack):
    stack.config({"disable": ["iam_size_limits", "iam_eventual_consistency"]})
    stack.client("iam").create_role(RoleName="big", AssumeRolePolicyDocument=big_trust(60))


# ------------------------------------------------------------------------------------------
# 5. logs_kms_access and logs_associate_kms_key


def test_logs_kms_access_denied_without_logs_grant(stack):
    kms, logs = stack.client("kms"), stack.client("logs")
    arn = kms.create_key(Policy=key_policy(group="/g/a", logs=False))["KeyMetadata"]["Arn"]
    for _ in range(3):
        with pytest.raises(ClientError) as e:
            logs.create_log_group(logGroupName="/g/a", kmsKeyId=arn)
        assert code_of(e) == "AccessDeniedException"
        assert e.value.response["Error"]["Message"] == (
            "The specified KMS key does not exist or is not allowed to be used with Arn "
            "'arn:aws:logs:us-east-1:%s:log-group:/g/a'" % ACCT)
    # a grant conditioned on another log group does not help
    kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=key_policy(group="/g/other"))
    for _ in range(2):
        with pytest.raises(ClientError):
            logs.create_log_group(logGroupName="/g/a", kmsKeyId=arn)
    # key ids (not ARNs) and missing keys are refused too
    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName="/g/a", kmsKeyId=arn.rsplit("/", 1)[1])
    assert code_of(e) == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName="/g/a", kmsKeyId=arn[:-4] + "0000")
    assert code_of(e) == "AccessDeniedException"
    assert logs.describe_log_groups(logGroupNamePrefix="/g/a")["logGroups"] == []


def test_logs_kms_access_window_after_key_change(stack):
    kms, logs = stack.client("kms"), stack.client("logs")
    arn = kms.create_key(Policy=key_policy(group="/g/b"))["KeyMetadata"]["Arn"]
    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName="/g/b", kmsKeyId=arn)
    assert code_of(e) == "AccessDeniedException"
    logs.create_log_group(logGroupName="/g/b", kmsKeyId=arn)
    assert logs.describe_log_groups(logGroupNamePrefix="/g/b")["logGroups"][0]["kmsKeyId"] == arn
    kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=key_policy(group="/g/*"))
    _, failures = retry(lambda: logs.create_log_group(logGroupName="/g/c", kmsKeyId=arn),
                        {"AccessDeniedException"})
    assert failures == 1


def test_logs_kms_access_off(stack):
    stack.config({"disable": ["logs_kms_access"]})
    kms, logs = stack.client("kms"), stack.client("logs")
    arn = kms.create_key(Policy=key_policy(logs=False))["KeyMetadata"]["Arn"]
    logs.create_log_group(logGroupName="/g/a", kmsKeyId=arn)


def test_logs_associate_and_disassociate_kms_key(stack):
    kms, logs = stack.client("kms"), stack.client("logs")
    logs.create_log_group(logGroupName="/g/existing")
    arn = kms.create_key(Policy=key_policy(group="/g/existing"))["KeyMetadata"]["Arn"]
    _, failures = retry(lambda: logs.associate_kms_key(logGroupName="/g/existing", kmsKeyId=arn),
                        {"AccessDeniedException"})
    assert failures == 1
    group = logs.describe_log_groups(logGroupNamePrefix="/g/existing")["logGroups"][0]
    assert group["kmsKeyId"] == arn
    logs.disassociate_kms_key(logGroupName="/g/existing")
    assert "kmsKeyId" not in logs.describe_log_groups(logGroupNamePrefix="/g/existing")["logGroups"][0]
    with pytest.raises(ClientError) as e:
        logs.associate_kms_key(logGroupName="/g/missing", kmsKeyId=arn)
    assert code_of(e) == "ResourceNotFoundException"
    # the overlay is per region
    logs_w = stack.client("logs", "eu-west-1")
    logs_w.create_log_group(logGroupName="/g/existing")
    logs.associate_kms_key(logGroupName="/g/existing", kmsKeyId=arn)
    assert "kmsKeyId" not in logs_w.describe_log_groups(logGroupNamePrefix="/g/existing")["logGroups"][0]
    # a key the logs service may not use is refused on associate as well
    bad = kms.create_key(Policy=key_policy(logs=False))["KeyMetadata"]["Arn"]
    with pytest.raises(ClientError) as e:
        logs.associate_kms_key(logGroupName="/g/existing", kmsKeyId=bad)
    assert code_of(e) == "AccessDeniedException"


def test_logs_associate_kms_key_off_reaches_moto(stack):
    stack.config({"disable": ["logs_associate_kms_key", "logs_kms_access"]})
    logs = stack.client("logs")
    logs.create_log_group(logGroupName="/g/x")
    with pytest.raises(ClientError) as e:
        logs.associate_kms_key(logGroupName="/g/x", kmsKeyId="arn:aws:kms:us-east-1:%s:key/x" % ACCT)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500  # moto's own answer


# ------------------------------------------------------------------------------------------
# 6. s3_new_bucket_defaults, s3_expected_owner, s3_require_expected_owner


def test_s3_new_bucket_defaults(stack):
    s3 = stack.client("s3")
    s3.create_bucket(Bucket="defaults-bucket")
    enc = s3.get_bucket_encryption(Bucket="defaults-bucket")["ServerSideEncryptionConfiguration"]
    assert enc["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    pab = s3.get_public_access_block(Bucket="defaults-bucket")["PublicAccessBlockConfiguration"]
    assert pab == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                   "RestrictPublicBuckets": True}
    own = s3.get_bucket_ownership_controls(Bucket="defaults-bucket")["OwnershipControls"]
    assert own["Rules"][0]["ObjectOwnership"] == "BucketOwnerEnforced"
    # a repeated CreateBucket (us-east-1 answers 200) does not reset what was configured since
    s3.put_bucket_encryption(Bucket="defaults-bucket", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
    s3.create_bucket(Bucket="defaults-bucket")
    enc = s3.get_bucket_encryption(Bucket="defaults-bucket")["ServerSideEncryptionConfiguration"]
    assert enc["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    s3.create_bucket(Bucket="writer-bucket", ObjectOwnership="ObjectWriter")
    own = s3.get_bucket_ownership_controls(Bucket="writer-bucket")["OwnershipControls"]
    assert own["Rules"][0]["ObjectOwnership"] == "ObjectWriter"


def test_s3_new_bucket_defaults_off(stack):
    stack.config({"disable": ["s3_new_bucket_defaults"]})
    s3 = stack.client("s3")
    s3.create_bucket(Bucket="bare-bucket")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_ownership_controls(Bucket="bare-bucket")
    assert code_of(e) == "OwnershipControlsNotFoundError"


def test_s3_expected_owner(stack):
    s3 = stack.client("s3")
    s3.create_bucket(Bucket="mine-bucket")
    s3.get_bucket_encryption(Bucket="mine-bucket", ExpectedBucketOwner=ACCT)
    s3.head_bucket(Bucket="mine-bucket", ExpectedBucketOwner=ACCT)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_encryption(Bucket="mine-bucket", ExpectedBucketOwner=OTHER)
    assert code_of(e) == "AccessDenied"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as e:
        s3.put_bucket_policy(Bucket="mine-bucket", ExpectedBucketOwner=OTHER,
                             Policy=bucket_policy("mine-bucket"))
    assert code_of(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="mine-bucket", ExpectedBucketOwner=OTHER)
    assert e.value.response["Error"]["Code"] in ("403", "AccessDenied")
    with pytest.raises(ClientError):
        s3.get_bucket_policy(Bucket="mine-bucket")  # no policy: moto's NoSuchBucketPolicy
    # a bucket of another account, reached cross-account
    stack.client("s3", account=OTHER).create_bucket(Bucket="theirs-bucket")
    s3.get_bucket_encryption(Bucket="theirs-bucket", ExpectedBucketOwner=OTHER)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_encryption(Bucket="theirs-bucket", ExpectedBucketOwner=ACCT)
    assert code_of(e) == "AccessDenied"
    # a missing bucket stays NoSuchBucket
    with pytest.raises(ClientError) as e:
        s3.get_bucket_encryption(Bucket="missing-bucket-q", ExpectedBucketOwner=ACCT)
    assert code_of(e) == "NoSuchBucket"
    stack.config({"disable": ["s3_expected_owner"]})
    s3.get_bucket_encryption(Bucket="mine-bucket", ExpectedBucketOwner=OTHER)


def test_s3_require_expected_owner(stack):
    s3 = stack.client("s3")
    s3.create_bucket(Bucket="req-bucket")  # off by default
    s3.get_bucket_encryption(Bucket="req-bucket")
    stack.config({"enable": ["s3_require_expected_owner"]})
    s3.create_bucket(Bucket="req-bucket-2")  # CreateBucket excluded
    s3.list_buckets()  # ListBuckets excluded
    with pytest.raises(ClientError) as e:
        s3.get_bucket_encryption(Bucket="req-bucket")
    assert code_of(e) == "AccessDenied"
    assert "requires ExpectedBucketOwner" in e.value.response["Error"]["Message"]
    s3.get_bucket_encryption(Bucket="req-bucket", ExpectedBucketOwner=ACCT)
    s3.put_public_access_block(Bucket="req-bucket-2", ExpectedBucketOwner=ACCT,
                               PublicAccessBlockConfiguration={"BlockPublicAcls": True})


# ------------------------------------------------------------------------------------------
# 7. sts_assume_role_trust


def cross_account_role(stack, name, principal, external_id=None):
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]}
    if external_id is not None:
        trust["Statement"][0]["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    iam = stack.client("iam", account=OTHER)
    stack.config({"disable": ["iam_eventual_consistency"]})
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    stack.config({"enable": ["iam_eventual_consistency"]})
    return "arn:aws:iam::%s:role/%s" % (OTHER, name)


def test_sts_assume_role_admitted(stack):
    arn = cross_account_role(stack, "op", "arn:aws:iam::%s:root" % ACCT, external_id="opaque")
    sts = stack.client("sts")
    creds = sts.assume_role(RoleArn=arn, RoleSessionName="op", ExternalId="opaque")["Credentials"]
    assumed = stack.client("sts", creds={
        "aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"]})
    ident = assumed.get_caller_identity()
    assert ident["Account"] == OTHER
    # the proxy sees the assumed credentials act in the role's account
    iam_b = stack.client("iam", creds={
        "aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"]})
    iam_b.create_role(RoleName="made-in-b", AssumeRolePolicyDocument=trust_policy(account=OTHER))
    assert stack.log("iam_eventual_consistency") == []
    with pytest.raises(ClientError):
        iam_b.get_role(RoleName="made-in-b")
    assert stack.log("iam_eventual_consistency")[-1]["account"] == OTHER
    # account-id principal and "*" admit too
    arn2 = cross_account_role(stack, "op2", ACCT)
    sts.assume_role(RoleArn=arn2, RoleSessionName="op")
    arn3 = cross_account_role(stack, "op3", "*")
    sts.assume_role(RoleArn=arn3, RoleSessionName="op")


def test_sts_assume_role_denied(stack):
    sts = stack.client("sts")
    arn = cross_account_role(stack, "op", "arn:aws:iam::%s:root" % ACCT, external_id="opaque")
    for kwargs in ({}, {"ExternalId": "wrong"}):
        with pytest.raises(ClientError) as e:
            sts.assume_role(RoleArn=arn, RoleSessionName="op", **kwargs)
        assert code_of(e) == "AccessDenied"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        msg = e.value.response["Error"]["Message"]
        assert msg.startswith("User: arn:aws:sts::%s:" % ACCT)
        assert msg.endswith("is not authorized to perform: sts:AssumeRole on resource: %s" % arn)
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn="arn:aws:iam::%s:role/missing" % OTHER, RoleSessionName="op")
    assert code_of(e) == "AccessDenied"
    other = cross_account_role(stack, "other", "arn:aws:iam::999988887777:root")
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=other, RoleSessionName="op")
    assert code_of(e) == "AccessDenied"
    stack.config({"disable": ["sts_assume_role_trust"]})
    sts.assume_role(RoleArn=other, RoleSessionName="op")


def test_chunked_request_body_and_expect_continue(stack):
    """Request bodies sent chunked, or after `Expect: 100-continue`, reach moto intact."""
    stack.client("s3").create_bucket(Bucket="chunk-bucket")
    u = stack.proxy_url.split("//", 1)[1]
    host, port = u.split(":")
    auth = ("AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, "
            "SignedHeaders=host, Signature=0")
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    c.request("PUT", "/chunk-bucket/chunked.txt", body=iter([b"hello ", b"chunked"]),
              headers={"Authorization": auth, "Transfer-Encoding": "chunked",
                       "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}, encode_chunked=True)
    r = c.getresponse()
    r.read()
    assert r.status == 200
    c.request("PUT", "/chunk-bucket/expect.txt", body=b"after continue",
              headers={"Authorization": auth, "Expect": "100-continue",
                       "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    r = c.getresponse()
    r.read()
    assert r.status == 200
    c.close()
    s3 = stack.client("s3")
    assert s3.get_object(Bucket="chunk-bucket", Key="chunked.txt")["Body"].read() == b"hello chunked"
    assert s3.get_object(Bucket="chunk-bucket", Key="expect.txt")["Body"].read() == b"after continue"


def test_organizations_calls_are_throttled_when_closer_than_the_limit(stack):
    org = stack.client("organizations")
    org.create_organization(FeatureSet="ALL")
    time.sleep(0.6)
    root = org.list_roots()["Roots"][0]["Id"]
    # A paced caller passes...
    time.sleep(0.6)
    org.list_accounts_for_parent(ParentId=root)
    assert stack.log("organizations_rate") == []
    # ...one that calls again at once is throttled, as AWS does.
    with pytest.raises(ClientError) as e:
        org.list_organizational_units_for_parent(ParentId=root)
    assert code_of(e) == "TooManyRequestsException"
    assert stack.log("organizations_rate")[-1]["operation"] == "ListOrganizationalUnitsForParent"


def test_a_queue_name_cannot_be_created_again_within_the_limit_after_its_deletion(stack):
    sqs = stack.client("sqs")
    stack.config({"limits": {"sqs_deleted_queue_name_ms": 1500}})
    try:
        url = sqs.create_queue(QueueName="strict-deleted")["QueueUrl"]
        sqs.delete_queue(QueueUrl=url)
        # Within the limit SQS refuses the name, as AWS does for 60 s...
        with pytest.raises(ClientError) as e:
            sqs.create_queue(QueueName="strict-deleted")
        assert code_of(e) in ("AWS.SimpleQueueService.QueueDeletedRecently", "QueueDeletedRecently")
        assert stack.log("sqs_queue_deleted_recently")[-1]["operation"] == "CreateQueue"
        # ...another name is not affected...
        sqs.create_queue(QueueName="strict-other")
        # ...and after it the name can be used again.
        time.sleep(1.6)
        assert sqs.create_queue(QueueName="strict-deleted")["QueueUrl"].endswith("/strict-deleted")
    finally:
        stack.config({"limits": {"sqs_deleted_queue_name_ms": 60000}})
