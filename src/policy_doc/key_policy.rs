//! The KMS key policy statements Bedrock and CloudWatch Logs need.

use serde_json::{Value, json};

use super::{bedrock_source_arn, log_group_arn, partition, source_conditions};

pub const SID_ROOT: &str = "EnableRootAccountPermissions";
pub const SID_LOGS: &str = "AllowCloudWatchLogsUseOfTheKey";
pub const SID_BEDROCK: &str = "AllowBedrockLoggingGenerateDataKey";

/// The account-root statement every key we create starts with (never removed later).
pub fn root_statement(region: &str, account: &str) -> Value {
    json!({
        "Sid": SID_ROOT,
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:{}:iam::{account}:root", partition(region))},
        "Action": "kms:*",
        "Resource": "*"
    })
}

/// CloudWatch Logs may use the key only for this log group (encryption context condition).
pub fn logs_statement(region: &str, account: &str, log_group: &str) -> Value {
    json!({
        "Sid": SID_LOGS,
        "Effect": "Allow",
        "Principal": {"Service": format!("logs.{region}.amazonaws.com")},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
        "Condition": {
            "ArnEquals": {"kms:EncryptionContext:aws:logs:arn": log_group_arn(region, account, log_group)}
        }
    })
}

/// Bedrock may generate data keys for log objects written from this account and region.
pub fn bedrock_statement(region: &str, account: &str) -> Value {
    json!({
        "Sid": SID_BEDROCK,
        "Effect": "Allow",
        "Principal": {"Service": "bedrock.amazonaws.com"},
        "Action": "kms:GenerateDataKey",
        "Resource": "*",
        "Condition": source_conditions(account, vec![bedrock_source_arn(region, account)])
    })
}

/// The statements this policy needs in the key policy.
pub fn desired_statements(region: &str, account: &str, log_group: Option<&str>) -> Vec<Value> {
    let mut out = vec![bedrock_statement(region, account)];
    if let Some(lg) = log_group {
        out.push(logs_statement(region, account, lg));
    }
    out
}

/// The policy of a key we create: root first, then ours.
pub fn initial_policy(region: &str, account: &str, log_group: Option<&str>) -> Value {
    let mut statements = vec![root_statement(region, account)];
    statements.extend(desired_statements(region, account, log_group));
    json!({"Version": "2012-10-17", "Id": "bedrock-logging-operator", "Statement": statements})
}
