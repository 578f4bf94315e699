//! The checks: stable ids, titles, severities and the frameworks each supports.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A check's definition: stable id, severity, and the frameworks it supports.
pub struct CheckDef {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub frameworks: &'static [&'static str],
}

const FW_LOGGING: &[&str] = &[
    "C5",
    "ISO27001",
    "KISA-ISMS-P",
    "NIS2",
    "SOC2",
    "AWS-AISF:AISF-AI-05",
];
const FW_ENCRYPTION: &[&str] = &[
    "C5",
    "ISO27001",
    "KISA-ISMS-P",
    "NIS2",
    "SOC2",
    "AWS-AISF:AISF-INFRA-05",
];

pub const LOGGING_ENABLED: &str = "bedrock_model_invocation_logging_enabled";
pub const LOGS_ENCRYPTED: &str = "bedrock_model_invocation_logs_encryption_enabled";
pub const TEXT_DATA: &str = "bedrock_model_invocation_logging_text_data_enabled";
pub const KEY_ROTATION: &str = "bedrocklogging_kms_key_rotation_enabled";
pub const BUCKET_PUBLIC_ACCESS: &str = "bedrocklogging_s3_public_access_blocked";
pub const BUCKET_ACLS: &str = "bedrocklogging_s3_acls_disabled";
pub const LOG_RETENTION: &str = "bedrocklogging_log_group_retention_set";
pub const ROLE_CONFUSED_DEPUTY: &str = "bedrocklogging_role_confused_deputy_protection";
pub const KEY_POLICY_CONTEXT: &str = "bedrocklogging_kms_key_policy_logs_encryption_context";
pub const CLOUDTRAIL_DATA_EVENTS: &str = "bedrock_cloudtrail_data_events_enabled";
pub const TAMPER_RESPONSE: &str = "bedrocklogging_tamper_response_configured";
/// Reported only when it fails: more than one key is tagged for the policy in a region.
pub const SINGLE_KEY: &str = "bedrocklogging_kms_single_key";

pub const CHECKS: &[CheckDef] = &[
    CheckDef {
        id: LOGGING_ENABLED,
        title: "Bedrock model invocation logging is on, to the policy's destinations",
        severity: Severity::High,
        frameworks: FW_LOGGING,
    },
    CheckDef {
        id: LOGS_ENCRYPTED,
        title: "Invocation logs are encrypted with the policy's customer-managed KMS key",
        severity: Severity::High,
        frameworks: FW_ENCRYPTION,
    },
    CheckDef {
        id: TEXT_DATA,
        title: "Text data delivery is enabled",
        severity: Severity::Medium,
        frameworks: FW_LOGGING,
    },
    CheckDef {
        id: KEY_ROTATION,
        title: "The logging key rotates automatically",
        severity: Severity::Medium,
        frameworks: FW_ENCRYPTION,
    },
    CheckDef {
        id: BUCKET_PUBLIC_ACCESS,
        title: "Log buckets block all public access",
        severity: Severity::High,
        frameworks: FW_ENCRYPTION,
    },
    CheckDef {
        id: BUCKET_ACLS,
        title: "Log buckets have ACLs disabled (BucketOwnerEnforced)",
        severity: Severity::Medium,
        frameworks: FW_ENCRYPTION,
    },
    CheckDef {
        id: LOG_RETENTION,
        title: "The log group has a retention period",
        severity: Severity::Low,
        frameworks: FW_LOGGING,
    },
    CheckDef {
        id: ROLE_CONFUSED_DEPUTY,
        title: "The Bedrock logging role trust has SourceAccount and SourceArn conditions",
        severity: Severity::High,
        frameworks: FW_LOGGING,
    },
    CheckDef {
        id: KEY_POLICY_CONTEXT,
        title: "The key policy restricts CloudWatch Logs by encryption context",
        severity: Severity::Medium,
        frameworks: FW_ENCRYPTION,
    },
    CheckDef {
        id: SINGLE_KEY,
        title: "One KMS key per region is tagged for the policy (no duplicate from a lost CreateKey)",
        severity: Severity::Low,
        frameworks: FW_ENCRYPTION,
    },
    CheckDef {
        id: TAMPER_RESPONSE,
        title: "Tamper response is wired: an encrypted queue fed only by an EventBridge rule for the calls that undo logging",
        severity: Severity::Medium,
        frameworks: FW_LOGGING,
    },
    CheckDef {
        id: CLOUDTRAIL_DATA_EVENTS,
        title: "CloudTrail records Bedrock data events",
        severity: Severity::Medium,
        frameworks: FW_LOGGING,
    },
];

pub fn check_def(id: &str) -> Option<&'static CheckDef> {
    CHECKS.iter().find(|c| c.id == id)
}
