"""docs/iam.md: the operator's IAM policy block (least privilege, SPEC §3)."""

from __future__ import annotations

import json
import re

from conftest import DOCS_DIR, require_blo_bin, run_blo

IAM_DOC = DOCS_DIR / "iam.md"

REQUIRED_ACTIONS = {
    "sts:GetCallerIdentity", "sts:AssumeRole",
    "kms:CreateKey", "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:CreateAlias",
    "kms:ListAliases", "kms:ListKeys", "kms:GetKeyRotationStatus", "kms:EnableKeyRotation",
    "kms:TagResource", "kms:ListResourceTags",
    "s3:CreateBucket", "s3:ListBucket",
    "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration",
    "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock",
    "s3:GetBucketOwnershipControls", "s3:PutBucketOwnershipControls",
    "s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:PutBucketTagging",
    "logs:CreateLogGroup", "logs:DescribeLogGroups", "logs:AssociateKmsKey", "logs:PutRetentionPolicy",
    "logs:TagResource",
    "iam:GetRole", "iam:CreateRole", "iam:UpdateAssumeRolePolicy", "iam:GetRolePolicy", "iam:PutRolePolicy",
    "iam:TagRole", "iam:PassRole",
    "bedrock:GetModelInvocationLoggingConfiguration", "bedrock:PutModelInvocationLoggingConfiguration",
    "bedrock:DeleteModelInvocationLoggingConfiguration",
    "cloudtrail:GetTrail", "cloudtrail:GetEventSelectors", "cloudtrail:PutEventSelectors",
}

# The operator never deletes data, never reads the logs, never disables keys. (It deletes the
# tamper-queue messages it handled: sqs:DeleteMessage, and nothing else of SQS.)
FORBIDDEN_ACTION = re.compile(
    r"(^\*$|:\*$|^(?!sqs:DeleteMessage$).*:Delete(?!ModelInvocationLoggingConfiguration)|:ScheduleKeyDeletion|:DisableKey"
    r"|^s3:(Get|Put)Object|^s3:PutLifecycle|^iam:(Attach|Create)(User|Policy|AccessKey)|^iam:\*)"
)


def doc_policy_text() -> str:
    text = IAM_DOC.read_text()
    m = re.search(r"<!-- iam-policy:begin -->\s*```json\n(.*?)```\s*<!-- iam-policy:end -->", text, re.S)
    assert m, "docs/iam.md needs a ```json block between <!-- iam-policy:begin --> and <!-- iam-policy:end -->"
    return m.group(1)


def doc_policy() -> dict:
    return json.loads(doc_policy_text())


def as_list(v) -> list:
    return v if isinstance(v, list) else [v]


def canonical(policy: dict) -> list[str]:
    """Order-insensitive form: statements sorted, Action/Resource lists sorted."""
    out = []
    for st in as_list(policy["Statement"]):
        st = dict(st)
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in st:
                st[key] = sorted(as_list(st[key]))
        out.append(json.dumps(st, sort_keys=True))
    return sorted(out)


def allowed_actions(policy: dict) -> set[str]:
    return {a for st in policy["Statement"] if st["Effect"] == "Allow" for a in as_list(st["Action"])}


def test_policy_block_is_valid_iam_json():
    policy = doc_policy()
    assert policy["Version"] == "2012-10-17"
    sids = [st.get("Sid") for st in policy["Statement"]]
    assert all(sids) and len(sids) == len(set(sids)), "every statement has a unique Sid"
    for st in policy["Statement"]:
        assert st["Effect"] in ("Allow", "Deny")
        assert set(st) <= {"Sid", "Effect", "Action", "Resource", "Condition"}
        assert st["Resource"]
    assert len(json.dumps(policy, separators=(",", ":"))) <= 6144, "fits a customer-managed policy"


def test_policy_grants_what_spec_section_3_needs():
    missing = REQUIRED_ACTIONS - allowed_actions(doc_policy())
    assert not missing, sorted(missing)


def test_policy_is_least_privilege():
    policy = doc_policy()
    for action in allowed_actions(policy):
        assert not FORBIDDEN_ACTION.search(action), action
    for st in policy["Statement"]:
        actions = set(as_list(st["Action"]))
        if st["Effect"] == "Allow" and actions & {"iam:PassRole"}:
            assert st["Condition"]["StringEquals"]["iam:PassedToService"] == "bedrock.amazonaws.com"
            assert all(":role/" in r and not r.endswith(":role/*") for r in as_list(st["Resource"]))
        if st["Effect"] == "Allow" and actions & {"iam:CreateRole", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy"}:
            assert all(not r.endswith(":role/*") and r != "*" for r in as_list(st["Resource"])), (
                "IAM writes are scoped to the logging role"
            )
        if st["Effect"] == "Allow" and any(a.startswith("s3:") for a in actions):
            assert all(r.startswith("arn:aws:s3:::") and "/" not in r for r in as_list(st["Resource"])), (
                "bucket-level only, no object ARNs"
            )
        if "kms:CreateKey" in actions and st["Effect"] == "Allow":
            conditions = {k: v for op in st["Condition"].values() for k, v in op.items()}
            assert "aws:RequestTag/bedrocklogging.io/policy" in conditions, "keys are tagged at creation"
    denies = [st for st in policy["Statement"] if st["Effect"] == "Deny"]
    assert any("kms:PutKeyPolicy" in as_list(st["Action"]) for st in denies), "lockout-check bypass is denied"


def test_doc_covers_irsa_pod_identity_and_cross_account():
    text = IAM_DOC.read_text()
    for needle in (
        "eks.amazonaws.com/role-arn",
        "sts:AssumeRoleWithWebIdentity",
        "pods.eks.amazonaws.com",
        "sts:TagSession",
        "spec.account.roleArn",
        "sts:ExternalId",
        "externalId",
    ):
        assert needle in text, needle
    # every JSON block in the doc parses
    for block in re.findall(r"```json\n(.*?)```", text, re.S):
        json.loads(block)


def test_doc_matches_binary_iam_policy():
    require_blo_bin("comparing docs/iam.md with `iam-policy` output")
    from_binary = json.loads(run_blo("iam-policy"))
    assert canonical(from_binary) == canonical(doc_policy()), (
        "docs/iam.md policy differs from `bedrock-logging-operator iam-policy`: paste its output "
        "between the iam-policy markers"
    )


def test_canonical_form_ignores_order():
    policy = doc_policy()
    shuffled = {
        "Version": policy["Version"],
        "Statement": [
            {**st, "Action": sorted(as_list(st["Action"]), reverse=True)} for st in reversed(policy["Statement"])
        ],
    }
    assert canonical(shuffled) == canonical(policy)
