//! The IAM role Bedrock assumes to write to CloudWatch Logs: trust and inline policy.

use serde_json::{Value, json};

use super::{bedrock_source_arn, log_group_arn, source_conditions, statements};

pub const INLINE_POLICY_PREFIX: &str = "BedrockModelInvocationLogging-";
pub const SID_WRITE_LOGS: &str = "WriteModelInvocationLogs";
pub const SID_USE_KEY: &str = "UseLoggingKeyThroughCloudWatchLogs";

/// One region's contribution to the role.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleRegion {
    pub region: String,
    pub log_group: String,
    /// None when the region's key could not be resolved in this pass.
    pub key_arn: Option<String>,
}

/// Several policies of one account may share a delivery role (same role name): each owns its own
/// trust statement and its own inline policy, so they never overwrite each other's regions.
/// The suffix keeps the policy name readable and a hash keeps names that differ only in
/// punctuation apart (IAM Sids are alphanumeric).
pub fn policy_suffix(policy: &str) -> String {
    let alnum: String = policy
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(48)
        .collect();
    format!("{alnum}{:08x}", super::fnv1a32(policy))
}

/// The Sid of this policy's trust statement.
pub fn trust_sid(policy: &str) -> String {
    format!("BedrockLogging{}", policy_suffix(policy))
}

/// The name of this policy's inline policy on the role.
pub fn inline_policy_name(policy: &str) -> String {
    format!("{INLINE_POLICY_PREFIX}{}", policy_suffix(policy))
}

/// Trust: bedrock.amazonaws.com with SourceAccount + SourceArn (one ARN per region).
pub fn trust_statement(policy: &str, account: &str, regions: &[String]) -> Value {
    let arns = regions
        .iter()
        .map(|r| bedrock_source_arn(r, account))
        .collect();
    json!({
        "Sid": trust_sid(policy),
        "Effect": "Allow",
        "Principal": {"Service": "bedrock.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": source_conditions(account, arns)
    })
}

pub fn trust_document(policy: &str, account: &str, regions: &[String]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [trust_statement(policy, account, regions)]})
}

/// The inline policy. Regions whose key is unknown this pass keep the key ARNs the current
/// policy already grants for them, so one failing region never revokes another's access.
pub fn inline_document(account: &str, regions: &[RoleRegion], current: Option<&Value>) -> Value {
    let streams: Vec<String> = regions
        .iter()
        .map(|r| {
            format!(
                "{}:log-stream:aws/bedrock/modelinvocations",
                log_group_arn(&r.region, account, &r.log_group)
            )
        })
        .collect();
    let current_keys: Vec<String> = current
        .map(|doc| {
            statements(doc)
                .iter()
                .filter(|s| s.get("Sid").and_then(Value::as_str) == Some(SID_USE_KEY))
                .flat_map(|s| match s.get("Resource") {
                    Some(Value::String(one)) => vec![one.clone()],
                    Some(Value::Array(many)) => many
                        .iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect(),
                    _ => vec![],
                })
                .collect()
        })
        .unwrap_or_default();
    let mut keys: Vec<String> = Vec::new();
    for r in regions {
        match &r.key_arn {
            Some(arn) => keys.push(arn.clone()),
            None => keys.extend(
                current_keys
                    .iter()
                    .filter(|k| k.contains(&format!(":kms:{}:", r.region)))
                    .cloned(),
            ),
        }
    }
    keys.sort();
    keys.dedup();
    let via: Vec<String> = regions
        .iter()
        .map(|r| format!("logs.{}.amazonaws.com", r.region))
        .collect();
    let mut stmts = vec![json!({
        "Sid": SID_WRITE_LOGS,
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": streams
    })];
    if !keys.is_empty() {
        stmts.push(json!({
            "Sid": SID_USE_KEY,
            "Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:ReEncrypt*", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
            "Resource": keys,
            "Condition": {"StringEquals": {"kms:ViaService": via}}
        }));
    }
    json!({"Version": "2012-10-17", "Statement": stmts})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_keeps_current_grant_for_that_region() {
        let current = json!({"Statement": [{"Sid": SID_USE_KEY, "Resource": ["arn:aws:kms:eu-west-1:1:key/old", "arn:aws:kms:us-east-1:1:key/stale"]}]});
        let regions = vec![
            RoleRegion {
                region: "us-east-1".into(),
                log_group: "g".into(),
                key_arn: Some("arn:aws:kms:us-east-1:1:key/new".into()),
            },
            RoleRegion {
                region: "eu-west-1".into(),
                log_group: "g".into(),
                key_arn: None,
            },
        ];
        let doc = inline_document("1", &regions, Some(&current));
        let keys = &statements(&doc)[1]["Resource"];
        assert_eq!(
            keys,
            &json!([
                "arn:aws:kms:eu-west-1:1:key/old",
                "arn:aws:kms:us-east-1:1:key/new"
            ])
        );
        assert_eq!(
            statements(&doc)[1]["Condition"]["StringEquals"]["kms:ViaService"],
            json!([
                "logs.us-east-1.amazonaws.com",
                "logs.eu-west-1.amazonaws.com"
            ])
        );
    }

    #[test]
    fn trust_lists_one_source_arn_per_region() {
        let t = trust_statement(
            "p",
            "123456789012",
            &["us-east-1".into(), "eu-west-1".into()],
        );
        assert_eq!(
            t["Condition"]["ArnLike"]["aws:SourceArn"],
            json!([
                "arn:aws:bedrock:us-east-1:123456789012:*",
                "arn:aws:bedrock:eu-west-1:123456789012:*"
            ])
        );
        assert_eq!(
            t["Condition"]["StringEquals"]["aws:SourceAccount"],
            "123456789012"
        );
    }
}
