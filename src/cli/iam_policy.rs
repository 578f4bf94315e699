//! `iam-policy`: the least-privilege IAM policy the operator itself needs, optionally scoped to
//! one policy file's resources.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::IamPolicyArgs;
use crate::api::{BedrockLoggingPolicySpec, DEFAULT_ROLE_NAME, validate_file::load_policy_file};
use crate::engine::desired::POLICY_TAG;
use crate::policy_doc::partition;

fn wildcard(template: &str) -> String {
    template
        .replace("{region}", "*")
        .replace("{accountId}", "*")
}

/// The operator's IAM policy. Without a spec, resource names are wildcards scoped by type.
pub fn operator_policy(spec: Option<&BedrockLoggingPolicySpec>) -> Value {
    // ARNs carry the partition of the policy's regions (aws, aws-cn, aws-us-gov).
    let p = spec
        .and_then(|s| s.regions.first())
        .map(|r| partition(r))
        .unwrap_or("aws");
    let buckets: Vec<String> = match spec {
        None => vec![format!("arn:{p}:s3:::*")],
        Some(s) => {
            let mut b = Vec::new();
            if let Some(s3) = &s.s3 {
                b.push(format!("arn:{p}:s3:::{}", wildcard(&s3.bucket_name)));
            }
            if let Some(l) = s
                .cloud_watch
                .as_ref()
                .and_then(|c| c.large_data_delivery.as_ref())
            {
                b.push(format!("arn:{p}:s3:::{}", wildcard(&l.bucket_name)));
            }
            b.sort();
            b.dedup();
            b
        }
    };
    let log_groups: Vec<String> = match spec.and_then(|s| s.cloud_watch.as_ref()) {
        Some(c) => vec![
            format!("arn:{p}:logs:*:*:log-group:{}", wildcard(&c.log_group_name)),
            format!(
                "arn:{p}:logs:*:*:log-group:{}:*",
                wildcard(&c.log_group_name)
            ),
        ],
        None => vec![format!("arn:{p}:logs:*:*:log-group:*")],
    };
    let role_name = spec
        .and_then(|s| s.cloud_watch.as_ref())
        .map(|c| {
            c.role_name
                .clone()
                .unwrap_or_else(|| DEFAULT_ROLE_NAME.to_string())
        })
        .unwrap_or_else(|| DEFAULT_ROLE_NAME.to_string());
    // A managed role found by name may live under a path (`role/service-role/<name>`).
    let role_arn: Vec<String> = match spec
        .and_then(|s| s.cloud_watch.as_ref())
        .and_then(|c| c.role_arn.clone())
    {
        Some(arn) => vec![arn],
        None => vec![
            format!("arn:{p}:iam::*:role/{role_name}"),
            format!("arn:{p}:iam::*:role/*/{role_name}"),
        ],
    };
    let mut statements = vec![
        json!({"Sid": "Identity", "Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"}),
        json!({
            "Sid": "CreateTaggedKeys",
            "Effect": "Allow",
            "Action": ["kms:CreateKey", "kms:TagResource"],
            "Resource": "*",
            "Condition": {"StringLike": {format!("aws:RequestTag/{POLICY_TAG}"): "*"}}
        }),
        json!({
            "Sid": "NeverBypassKeyPolicyLockoutCheck",
            "Effect": "Deny",
            "Action": ["kms:CreateKey", "kms:PutKeyPolicy"],
            "Resource": "*",
            "Condition": {"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "true"}}
        }),
        json!({"Sid": "FindKeys", "Effect": "Allow", "Action": ["kms:ListKeys", "kms:ListAliases"], "Resource": "*"}),
        json!({
            "Sid": "ManageLoggingKeys",
            "Effect": "Allow",
            "Action": ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus", "kms:EnableKeyRotation", "kms:ListResourceTags", "kms:CreateAlias"],
            "Resource": [format!("arn:{p}:kms:*:*:key/*"), format!("arn:{p}:kms:*:*:alias/*")]
        }),
        json!({
            "Sid": "ManageLogBuckets",
            "Effect": "Allow",
            "Action": [
                "s3:CreateBucket", "s3:ListBucket", "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration",
                "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock", "s3:GetBucketOwnershipControls",
                "s3:PutBucketOwnershipControls", "s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:GetBucketTagging", "s3:PutBucketTagging"
            ],
            "Resource": buckets
        }),
        json!({"Sid": "FindLogGroups", "Effect": "Allow", "Action": ["logs:DescribeLogGroups"], "Resource": "*"}),
        json!({
            "Sid": "ManageLogGroups",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:AssociateKmsKey", "logs:PutRetentionPolicy", "logs:TagResource", "logs:TagLogGroup"],
            "Resource": log_groups
        }),
        json!({
            "Sid": "ManageDeliveryRole",
            "Effect": "Allow",
            "Action": ["iam:GetRole", "iam:CreateRole", "iam:TagRole", "iam:UpdateAssumeRolePolicy", "iam:GetRolePolicy", "iam:PutRolePolicy"],
            "Resource": role_arn.clone()
        }),
        json!({
            "Sid": "PassDeliveryRoleToBedrock",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}
        }),
        json!({
            "Sid": "ManageInvocationLogging",
            "Effect": "Allow",
            "Action": [
                "bedrock:GetModelInvocationLoggingConfiguration",
                "bedrock:PutModelInvocationLoggingConfiguration",
                "bedrock:DeleteModelInvocationLoggingConfiguration"
            ],
            "Resource": "*"
        }),
    ];
    let trail = match spec {
        None => Some(format!("arn:{p}:cloudtrail:*:*:trail/*")),
        Some(s) => s.cloud_trail.as_ref().map(|t| {
            if t.trail_name.starts_with("arn:") {
                t.trail_name.clone()
            } else {
                format!("arn:{p}:cloudtrail:*:*:trail/{}", t.trail_name)
            }
        }),
    };
    if let Some(trail) = trail {
        statements.push(json!({
            "Sid": "BedrockDataEventsOnTrail",
            "Effect": "Allow",
            "Action": ["cloudtrail:GetTrail", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors", "cloudtrail:PutEventSelectors"],
            "Resource": trail
        }));
        // A trail given by name may live in any region: ListTrails finds its home region.
        statements.push(json!({"Sid": "FindTrails", "Effect": "Allow", "Action": "cloudtrail:ListTrails", "Resource": "*"}));
    }
    // Tamper response: the queue and its rule (named alike), and the listener's polling.
    let tamper = match spec {
        None => Some("*".to_string()),
        Some(s) => s.tamper_response.as_ref().map(|t| t.queue_name.clone()),
    };
    if let Some(name) = tamper {
        statements.push(json!({
            "Sid": "TamperResponseQueue",
            "Effect": "Allow",
            "Action": ["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:CreateQueue", "sqs:TagQueue", "sqs:SetQueueAttributes", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
            "Resource": format!("arn:{p}:sqs:*:*:{name}")
        }));
        statements.push(json!({
            "Sid": "TamperResponseRule",
            "Effect": "Allow",
            "Action": ["events:DescribeRule", "events:ListTargetsByRule", "events:PutRule", "events:TagResource", "events:PutTargets"],
            "Resource": format!("arn:{p}:events:*:*:rule/{name}")
        }));
    }
    // `check --export securityhub` / `run --export-securityhub`: findings into Security Hub.
    statements.push(json!({
        "Sid": "ExportFindingsToSecurityHub",
        "Effect": "Allow",
        "Action": "securityhub:BatchImportFindings",
        "Resource": format!("arn:{p}:securityhub:*:*:product/*/default")
    }));
    // allRegions: which regions are enabled and where Bedrock is offered.
    if spec.is_none_or(|s| s.all_regions.is_some()) {
        statements.push(json!({"Sid": "DiscoverRegions", "Effect": "Allow", "Action": "ec2:DescribeRegions", "Resource": "*"}));
        statements.push(json!({
            "Sid": "DiscoverBedrockRegions",
            "Effect": "Allow",
            "Action": "ssm:GetParametersByPath",
            "Resource": format!("arn:{p}:ssm:*::parameter/aws/service/global-infrastructure/services/bedrock/regions")
        }));
    }
    // accounts: list the organization's member accounts (management or delegated admin).
    let member_role = match spec {
        None => Some(crate::api::DEFAULT_MEMBER_ROLE.to_string()),
        Some(s) => s.accounts.as_ref().map(|a| a.role_name.clone()),
    };
    if let Some(role) = &member_role {
        statements.push(json!({
            "Sid": "ListOrganizationMembers",
            "Effect": "Allow",
            "Action": ["organizations:ListAccountsForParent", "organizations:ListOrganizationalUnitsForParent"],
            "Resource": "*"
        }));
        statements.push(json!({"Sid": "AssumeMemberAccountRole", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": format!("arn:{p}:iam::*:role/{role}")}));
    }
    let assume = match spec {
        None => Some(format!("arn:{p}:iam::*:role/bedrock-logging-operator")),
        Some(s) => s.account.as_ref().and_then(|a| a.role_arn.clone()),
    };
    if let Some(role) = assume {
        statements.push(json!({"Sid": "AssumeGovernedAccountRole", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role}));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

pub fn command(args: &IamPolicyArgs) -> ExitCode {
    let spec = match &args.file {
        None => None,
        Some(f) => match load_policy_file(f) {
            Ok(p) => Some(p.spec),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&operator_policy(spec.as_ref())).unwrap_or_default()
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Defect: `arn:aws:` was hard-coded; a GovCloud or China policy got unusable ARNs.
    #[test]
    fn arns_carry_the_partition_of_the_policy_regions() {
        let text = "apiVersion: bedrocklogging.io/v1alpha1\nkind: BedrockLoggingPolicy\nmetadata: {name: p}\nspec:\n  regions: [us-gov-west-1]\n  kmsKey: {create: {alias: alias/x}}\n  s3: {bucketName: \"b-{region}\"}\n  cloudWatch: {logGroupName: /x}\n";
        let spec = crate::api::validate_file::parse_policy(text, "p.yaml")
            .unwrap()
            .spec;
        let doc = operator_policy(Some(&spec)).to_string();
        assert!(!doc.contains("arn:aws:"), "{doc}");
        assert!(doc.contains("arn:aws-us-gov:s3:::b-*"), "{doc}");
        assert!(operator_policy(None).to_string().contains("arn:aws:kms:"));
    }
}
