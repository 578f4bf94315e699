//! The typed changes a plan is made of. Each one is a single AWS write.

use serde_json::Value;

use crate::cloud::{AdvancedSelector, LoggingConfig, RuleTarget};

/// A key ARN, or the key this plan creates (known only once CreateKey ran).
#[derive(Debug, Clone, PartialEq)]
pub enum KeyRef {
    Known(String),
    New,
}

impl std::fmt::Display for KeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyRef::Known(arn) => write!(f, "{arn}"),
            KeyRef::New => write!(f, "(the new key)"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    CreateKey {
        alias: String,
        policy: Value,
    },
    CreateAlias {
        alias: String,
        key: KeyRef,
    },
    EnableKeyRotation {
        key: KeyRef,
    },
    PutKeyPolicy {
        key: KeyRef,
        document: Value,
        summary: Vec<String>,
    },
    CreateBucket {
        bucket: String,
    },
    PutOwnershipEnforced {
        bucket: String,
    },
    PutPublicAccessBlock {
        bucket: String,
    },
    PutBucketEncryption {
        bucket: String,
        key: KeyRef,
        was: String,
    },
    PutBucketPolicy {
        bucket: String,
        document: Value,
        summary: Vec<String>,
    },
    CreateLogGroup {
        name: String,
        key: KeyRef,
    },
    AssociateLogGroupKey {
        name: String,
        key: KeyRef,
    },
    PutRetention {
        name: String,
        days: i32,
    },
    CreateRole {
        name: String,
        trust: Value,
    },
    UpdateTrust {
        name: String,
        document: Value,
        summary: Vec<String>,
    },
    PutRolePolicy {
        name: String,
        policy_name: String,
        document: Value,
    },
    PutLoggingConfig {
        config: LoggingConfig,
        was_configured: bool,
    },
    PutTrailSelectors {
        trail: String,
        home_region: String,
        selectors: Vec<AdvancedSelector>,
        summary: Vec<String>,
    },
    /// Deletion with `deletionPolicy: Disable`, where the configuration is still this policy's.
    DeleteLoggingConfig,
    /// Tamper response: the queue, created with its policy and SSE.
    CreateQueue {
        name: String,
        attributes: Vec<(String, String)>,
    },
    SetQueueAttributes {
        name: String,
        url: String,
        attributes: Vec<(String, String)>,
        summary: Vec<String>,
    },
    /// The EventBridge rule (PutRule creates or updates it, enabled).
    PutTamperRule {
        name: String,
        pattern: String,
        created: bool,
    },
    PutRuleTarget {
        rule: String,
        target: RuleTarget,
    },
}

impl Change {
    /// What the change does, as reported in `lastChanges`, events and the dry-run plan.
    pub fn describe(&self) -> String {
        match self {
            Change::CreateKey { alias, .. } => {
                format!("KMS key {alias} created (symmetric, tagged)")
            }
            Change::CreateAlias { alias, .. } => format!("KMS alias {alias} created"),
            Change::EnableKeyRotation { key } => format!("KMS key rotation enabled on {key}"),
            Change::PutKeyPolicy { summary, .. } => format!("key policy {}", summary.join(", ")),
            Change::CreateBucket { bucket } => format!("bucket {bucket} created"),
            Change::PutOwnershipEnforced { bucket } => {
                format!("bucket {bucket} object ownership set to BucketOwnerEnforced")
            }
            Change::PutPublicAccessBlock { bucket } => {
                format!("bucket {bucket} public access block enabled (all four settings)")
            }
            Change::PutBucketEncryption { bucket, key, was } => {
                format!(
                    "bucket {bucket} default encryption set to SSE-KMS with {key} and bucket key (was {was})"
                )
            }
            Change::PutBucketPolicy {
                bucket, summary, ..
            } => format!("bucket {bucket} policy {}", summary.join(", ")),
            Change::CreateLogGroup { name, .. } => {
                format!("log group {name} created with the KMS key")
            }
            Change::AssociateLogGroupKey { name, key } => {
                format!("log group {name} associated with {key}")
            }
            Change::PutRetention { name, days } => {
                format!("log group {name} retention set to {days} days")
            }
            Change::CreateRole { name, .. } => format!("IAM role {name} created"),
            Change::UpdateTrust { name, summary, .. } => {
                format!("IAM role {name} trust policy {}", summary.join(", "))
            }
            Change::PutRolePolicy {
                name, policy_name, ..
            } => format!("IAM role {name} inline policy {policy_name} updated"),
            Change::PutLoggingConfig { was_configured, .. } => {
                if *was_configured {
                    "Bedrock model invocation logging configuration updated".into()
                } else {
                    "Bedrock model invocation logging enabled".into()
                }
            }
            Change::PutTrailSelectors { trail, summary, .. } => {
                format!("trail {trail} event selectors: {}", summary.join(", "))
            }
            Change::DeleteLoggingConfig => {
                "Bedrock model invocation logging disabled (deletionPolicy Disable)".into()
            }
            Change::CreateQueue { name, .. } => {
                format!("tamper queue {name} created (SSE-SQS, admits only its rule)")
            }
            Change::SetQueueAttributes { name, summary, .. } => {
                format!("tamper queue {name}: {}", summary.join(", "))
            }
            Change::PutTamperRule { name, created, .. } => {
                if *created {
                    format!("EventBridge rule {name} created for the tamper API calls")
                } else {
                    format!("EventBridge rule {name} enabled with the tamper API calls")
                }
            }
            Change::PutRuleTarget { rule, target } => {
                format!("EventBridge rule {rule} targets {}", target.arn)
            }
        }
    }
}
