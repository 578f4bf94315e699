//! The status the operator reports: kstatus conditions plus a per-region compliance view.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Bound on findings and changes kept per region in status (keeps objects small).
pub const MAX_FINDINGS_PER_REGION: usize = 24;
pub const MAX_CHANGES_PER_REGION: usize = 20;

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BedrockLoggingPolicyStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default)]
    #[schemars(extend("format" = "int32"))]
    pub compliant_regions: u32,
    #[serde(default)]
    #[schemars(extend("format" = "int32"))]
    pub total_regions: u32,
    /// "compliant/total", for the REGIONS printer column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_summary: Option<String>,
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["region"]))]
    pub regions: Vec<RegionStatus>,
    /// Organization policies: member accounts governed and compliant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts: Option<AccountCounts>,
    /// Organization policies: the worst non-compliant accounts (at most 50, worst first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub non_compliant_accounts: Vec<NonCompliantAccount>,
    /// Organization policies reconciled by several replicas (`--shard-count`): one entry per
    /// replica, written by that replica's field manager.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["index"]))]
    #[schemars(length(max = 64))]
    pub shards: Vec<ShardStatus>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountCounts {
    #[schemars(extend("format" = "int32"))]
    pub total: u32,
    #[schemars(extend("format" = "int32"))]
    pub compliant: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NonCompliantAccount {
    pub account_id: String,
    /// Its regions that are not compliant (at most 16 named).
    #[serde(default)]
    #[schemars(length(max = 16))]
    pub regions: Vec<String>,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One replica's share of an organization policy.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShardStatus {
    #[schemars(extend("format" = "int32"))]
    pub index: u32,
    /// `--shard-count` of the replica that wrote it (entries of another count are ignored).
    #[schemars(extend("format" = "int32"))]
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    pub accounts: AccountCounts,
    #[serde(default)]
    #[schemars(extend("format" = "int32"))]
    pub compliant_regions: u32,
    #[serde(default)]
    #[schemars(extend("format" = "int32"))]
    pub total_regions: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub non_compliant_accounts: Vec<NonCompliantAccount>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum RegionState {
    Compliant,
    Converging,
    Drifted,
    NonCompliant,
    Error,
    Conflict,
}

impl std::fmt::Display for RegionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegionStatus {
    pub region: String,
    pub state: RegionState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_data_bucket_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub findings: Vec<FindingStatus>,
    #[serde(default)]
    pub last_changes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<String>,
    /// The last tamper event seen in this region (`spec.tamperResponse`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_tamper: Option<TamperRecord>,
}

/// A CloudTrail API call that could undo the policy: who, what, when.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TamperRecord {
    /// `userIdentity.arn` of the caller.
    pub actor: String,
    /// `eventSource:eventName`, e.g. `bedrock.amazonaws.com:DeleteModelInvocationLoggingConfiguration`.
    pub event: String,
    /// `eventTime` (RFC 3339).
    pub time: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum FindingResult {
    Pass,
    /// Fails a control the policy requires: the region is not compliant.
    Fail,
    /// Fails a control the policy does not ask for (no retention set, an existing key managed
    /// elsewhere): reported, not counted against compliance.
    Warn,
    Skip,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FindingStatus {
    pub check: String,
    pub status: FindingResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
