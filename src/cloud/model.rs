//! Plain data the boundary returns and accepts: no SDK types leak past `cloud`.

#[derive(Debug, Clone, PartialEq)]
pub struct KeyInfo {
    pub arn: String,
    pub key_id: String,
    pub enabled: bool,
    /// KMS key state (Enabled, Disabled, PendingDeletion, PendingImport, ...).
    pub state: String,
    /// SYMMETRIC_DEFAULT for the keys Bedrock and CloudWatch Logs accept.
    pub spec: String,
    pub usage: String,
    /// AWS or CUSTOMER.
    pub manager: String,
    /// Creation time (epoch seconds; 0 when unknown): the oldest of duplicates keeps the alias.
    pub created: i64,
}

impl KeyInfo {
    pub fn is_symmetric_encrypt(&self) -> bool {
        self.spec == "SYMMETRIC_DEFAULT" && self.usage == "ENCRYPT_DECRYPT"
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketPresence {
    Missing,
    /// Exists and this account can use it.
    Owned,
    /// Exists but belongs to someone else (403).
    Foreign,
    /// Exists in another region (Bedrock needs the bucket in the logging region).
    OtherRegion,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BucketEncryption {
    /// AES256, aws:kms, aws:kms:dsse.
    pub algorithm: String,
    pub kms_key_id: Option<String>,
    pub bucket_key_enabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    pub const ALL: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };
    pub fn all_blocked(&self) -> bool {
        *self == Self::ALL
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogGroupInfo {
    pub arn: String,
    pub kms_key_id: Option<String>,
    pub retention_in_days: Option<i32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoleInfo {
    pub arn: String,
    /// The trust policy, decoded.
    pub trust_policy: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct S3Destination {
    pub bucket: String,
    pub prefix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CloudWatchDestination {
    pub log_group: String,
    pub role_arn: String,
    pub large_data: Option<S3Destination>,
}

/// Bedrock's model invocation logging configuration for one region.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoggingConfig {
    pub s3: Option<S3Destination>,
    pub cloud_watch: Option<CloudWatchDestination>,
    pub text: Option<bool>,
    pub image: Option<bool>,
    pub embedding: Option<bool>,
    pub video: Option<bool>,
    pub audio: Option<bool>,
}

impl LoggingConfig {
    /// Configured means at least one destination is present (moto returns an empty object).
    pub fn is_configured(&self) -> bool {
        self.s3.is_some() || self.cloud_watch.is_some()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrailInfo {
    pub arn: String,
    pub name: String,
    pub home_region: String,
    pub multi_region: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldSelector {
    pub field: String,
    pub equals: Vec<String>,
    pub starts_with: Vec<String>,
    pub ends_with: Vec<String>,
    pub not_equals: Vec<String>,
    pub not_starts_with: Vec<String>,
    pub not_ends_with: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AdvancedSelector {
    pub name: Option<String>,
    pub fields: Vec<FieldSelector>,
}

/// A classic (basic) event selector, kept so it can be converted without loss.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BasicSelector {
    pub read_write_type: Option<String>,
    pub include_management_events: Option<bool>,
    pub exclude_management_event_sources: Vec<String>,
    /// (type, values)
    pub data_resources: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrailSelectors {
    pub advanced: Vec<AdvancedSelector>,
    pub basic: Vec<BasicSelector>,
}

/// A finding Security Hub refused in a `BatchImportFindings`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportFailure {
    pub id: String,
    pub code: String,
    pub message: String,
}

/// An SQS queue (tamper response): where it is and the attributes the judge reads.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueInfo {
    pub url: String,
    pub arn: String,
    /// The queue policy (JSON), when set.
    pub policy: Option<String>,
    /// `SqsManagedSseEnabled` (SSE-SQS).
    pub sse_sqs: bool,
    /// `KmsMasterKeyId` (SSE-KMS), when set.
    pub kms_key: Option<String>,
}

/// One message received from a queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueMessage {
    pub id: String,
    pub receipt: String,
    pub body: String,
}

/// An EventBridge rule on the default bus.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleInfo {
    pub arn: String,
    /// The event pattern (JSON).
    pub pattern: Option<String>,
    pub enabled: bool,
}

/// A target of an EventBridge rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleTarget {
    pub id: String,
    pub arn: String,
}

/// A member account of an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    pub id: String,
    /// ACTIVE, SUSPENDED, PENDING_CLOSURE (only ACTIVE accounts are governed).
    pub status: String,
}
