//! The AWS boundary. Every `aws_sdk_*` import lives in [`sdk`]; the engine sees only the
//! [`Cloud`] trait and the plain data in [`model`]. [`fake`] is an in-memory AWS for unit tests.

pub mod error;
/// An in-memory AWS for tests (not in release builds: feature `test-util` or `cfg(test)`).
#[cfg(any(test, feature = "test-util"))]
pub mod fake;
pub mod model;
pub mod sdk;

use std::sync::Arc;

use async_trait::async_trait;

pub use error::{CloudError, ErrorKind};
pub use model::*;

/// Operation-name prefixes of AWS write calls (the rest are reads).
pub const WRITE_PREFIXES: &[&str] = &[
    "Create",
    "Put",
    "Update",
    "Enable",
    "Associate",
    "Delete",
    "Tag",
    "Schedule",
    "Disable",
    "Untag",
    "Start",
    "Stop",
    "Set",
];

/// Tags are (key, value) pairs.
pub type Tags = Vec<(String, String)>;

/// STS: who the credentials are.
#[async_trait]
pub trait Sts: Send + Sync {
    async fn account_id(&self) -> Result<String, CloudError>;

    /// The caller's ARN (GetCallerIdentity): the operator's own principal, whose own calls the
    /// tamper listener ignores.
    async fn caller_arn(&self) -> Result<String, CloudError>;
}

/// KMS: the logging key.
#[async_trait]
pub trait Kms: Send + Sync {
    async fn kms_describe_key(
        &self,
        region: &str,
        key: &str,
    ) -> Result<Option<KeyInfo>, CloudError>;

    /// Customer-managed keys carrying tag `key=value`, not pending deletion, oldest first
    /// (crash recovery before the alias exists; duplicates from a lost CreateKey response).
    async fn kms_find_tagged_keys(
        &self,
        region: &str,
        key: &str,
        value: &str,
    ) -> Result<Vec<KeyInfo>, CloudError>;

    async fn kms_rotation_enabled(&self, region: &str, key_id: &str) -> Result<bool, CloudError>;

    async fn kms_get_key_policy(&self, region: &str, key_id: &str) -> Result<String, CloudError>;

    async fn kms_create_key(
        &self,
        region: &str,
        description: &str,
        policy: &str,
        tags: &Tags,
    ) -> Result<KeyInfo, CloudError>;

    async fn kms_create_alias(
        &self,
        region: &str,
        alias: &str,
        key_id: &str,
    ) -> Result<(), CloudError>;

    async fn kms_enable_rotation(&self, region: &str, key_id: &str) -> Result<(), CloudError>;

    async fn kms_put_key_policy(
        &self,
        region: &str,
        key_id: &str,
        policy: &str,
    ) -> Result<(), CloudError>;
}

/// S3: the log buckets.
#[async_trait]
pub trait S3: Send + Sync {
    /// Whether the bucket exists (and is ours) and its default encryption, in one read.
    async fn s3_probe(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<(BucketPresence, Option<BucketEncryption>), CloudError>;

    async fn s3_get_public_access_block(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<Option<PublicAccessBlock>, CloudError>;

    async fn s3_get_ownership(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<Option<String>, CloudError>;

    async fn s3_get_policy(&self, region: &str, bucket: &str)
    -> Result<Option<String>, CloudError>;

    async fn s3_create_bucket(
        &self,
        region: &str,
        bucket: &str,
        tags: &Tags,
    ) -> Result<(), CloudError>;

    async fn s3_put_encryption(
        &self,
        region: &str,
        bucket: &str,
        kms_key_arn: &str,
    ) -> Result<(), CloudError>;

    async fn s3_put_public_access_block(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<(), CloudError>;

    async fn s3_put_ownership_enforced(&self, region: &str, bucket: &str)
    -> Result<(), CloudError>;

    async fn s3_put_policy(
        &self,
        region: &str,
        bucket: &str,
        policy: &str,
    ) -> Result<(), CloudError>;
}

/// CloudWatch Logs: the log group.
#[async_trait]
pub trait Logs: Send + Sync {
    async fn logs_describe_group(
        &self,
        region: &str,
        name: &str,
    ) -> Result<Option<LogGroupInfo>, CloudError>;

    async fn logs_create_group(
        &self,
        region: &str,
        name: &str,
        kms_key_arn: &str,
        tags: &Tags,
    ) -> Result<(), CloudError>;

    async fn logs_associate_key(
        &self,
        region: &str,
        name: &str,
        kms_key_arn: &str,
    ) -> Result<(), CloudError>;

    async fn logs_put_retention(
        &self,
        region: &str,
        name: &str,
        days: i32,
    ) -> Result<(), CloudError>;
}

/// IAM (global): the delivery role.
#[async_trait]
pub trait Iam: Send + Sync {
    async fn iam_get_role(&self, name: &str) -> Result<Option<RoleInfo>, CloudError>;

    async fn iam_get_role_policy(
        &self,
        role: &str,
        policy_name: &str,
    ) -> Result<Option<String>, CloudError>;

    async fn iam_create_role(
        &self,
        name: &str,
        trust_policy: &str,
        tags: &Tags,
    ) -> Result<RoleInfo, CloudError>;

    async fn iam_update_trust(&self, name: &str, trust_policy: &str) -> Result<(), CloudError>;

    async fn iam_put_role_policy(
        &self,
        role: &str,
        policy_name: &str,
        policy: &str,
    ) -> Result<(), CloudError>;
}

/// Bedrock: the model invocation logging configuration.
#[async_trait]
pub trait Bedrock: Send + Sync {
    async fn bedrock_get_logging(&self, region: &str) -> Result<Option<LoggingConfig>, CloudError>;

    async fn bedrock_put_logging(
        &self,
        region: &str,
        config: &LoggingConfig,
    ) -> Result<(), CloudError>;

    async fn bedrock_delete_logging(&self, region: &str) -> Result<(), CloudError>;
}

/// CloudTrail: Bedrock data events on a trail.
#[async_trait]
pub trait Trail: Send + Sync {
    async fn trail_get(&self, region: &str, name: &str) -> Result<Option<TrailInfo>, CloudError>;

    /// Every trail of the account, whatever its home region (ListTrails; `multi_region` unset).
    async fn trail_list(&self, region: &str) -> Result<Vec<TrailInfo>, CloudError>;

    /// `GetTrailStatus.IsLogging`, asked in the trail's home region.
    async fn trail_is_logging(&self, region: &str, trail: &str) -> Result<bool, CloudError>;

    async fn trail_get_selectors(
        &self,
        region: &str,
        name: &str,
    ) -> Result<TrailSelectors, CloudError>;

    async fn trail_put_advanced_selectors(
        &self,
        region: &str,
        name: &str,
        selectors: &[AdvancedSelector],
    ) -> Result<(), CloudError>;
}

/// The queue URLs an [`Sqs`] implementation remembers: (region, queue name) -> URL.
#[derive(Debug, Default)]
pub struct QueueUrls(std::sync::Mutex<std::collections::HashMap<(String, String), String>>);

impl QueueUrls {
    pub fn get(&self, region: &str, name: &str) -> Option<String> {
        self.map()
            .get(&(region.to_string(), name.to_string()))
            .cloned()
    }

    /// Remember (Some) or forget (None, the queue does not exist) a queue's URL.
    pub fn set(&self, region: &str, name: &str, url: Option<&str>) {
        let key = (region.to_string(), name.to_string());
        match url {
            Some(u) => self.map().insert(key, u.to_string()),
            None => self.map().remove(&key),
        };
    }

    fn map(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<(String, String), String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// SQS: the tamper-event queue of a region.
#[async_trait]
pub trait Sqs: Send + Sync {
    /// The queue by name (GetQueueUrl, then GetQueueAttributes); None when it does not exist.
    /// A queue's URL never changes for its name, so an implementation remembers the URL it found
    /// or created and asks only GetQueueAttributes the next time (a queue deleted since answers
    /// "does not exist": None, and the URL is forgotten).
    async fn sqs_get_queue(
        &self,
        region: &str,
        name: &str,
    ) -> Result<Option<QueueInfo>, CloudError>;

    /// CreateQueue with its attributes and tags in the one call; returns the queue URL.
    async fn sqs_create_queue(
        &self,
        region: &str,
        name: &str,
        attributes: &[(String, String)],
        tags: &Tags,
    ) -> Result<String, CloudError>;

    async fn sqs_set_attributes(
        &self,
        region: &str,
        url: &str,
        attributes: &[(String, String)],
    ) -> Result<(), CloudError>;

    /// ReceiveMessage: up to 10 messages, long-polling `wait_seconds`, hidden for `visibility`.
    async fn sqs_receive(
        &self,
        region: &str,
        url: &str,
        wait_seconds: i32,
        visibility: i32,
    ) -> Result<Vec<QueueMessage>, CloudError>;

    /// DeleteMessageBatch (10 per call; the caller may pass more).
    async fn sqs_delete(
        &self,
        region: &str,
        url: &str,
        receipts: &[String],
    ) -> Result<(), CloudError>;
}

/// EventBridge: the rule on the default bus that feeds the tamper queue.
#[async_trait]
pub trait Events: Send + Sync {
    async fn events_describe_rule(
        &self,
        region: &str,
        name: &str,
    ) -> Result<Option<RuleInfo>, CloudError>;

    async fn events_list_targets(
        &self,
        region: &str,
        rule: &str,
    ) -> Result<Vec<RuleTarget>, CloudError>;

    /// PutRule (create or update; ENABLED); returns the rule ARN. Tags apply when it is created.
    async fn events_put_rule(
        &self,
        region: &str,
        name: &str,
        pattern: &str,
        description: &str,
        tags: &Tags,
    ) -> Result<String, CloudError>;

    async fn events_put_target(
        &self,
        region: &str,
        rule: &str,
        target: &RuleTarget,
    ) -> Result<(), CloudError>;
}

/// Where a policy with `allRegions` applies (global answers, asked in the home region).
#[async_trait]
pub trait Discovery: Send + Sync {
    /// Regions enabled in the account (EC2 DescribeRegions: opt-in regions once opted in).
    async fn enabled_regions(&self) -> Result<Vec<String>, CloudError>;

    /// Regions where Bedrock is offered (SSM public parameters
    /// `/aws/service/global-infrastructure/services/bedrock/regions`, paginated).
    async fn bedrock_regions(&self) -> Result<Vec<String>, CloudError>;
}

/// AWS Organizations (the operator's own credentials: management or delegated administrator).
#[async_trait]
pub trait Organizations: Send + Sync {
    /// Child OUs of a root or OU (ListOrganizationalUnitsForParent, every page).
    async fn org_child_units(&self, parent: &str) -> Result<Vec<String>, CloudError>;

    /// Accounts directly under a root or OU (ListAccountsForParent, every page).
    async fn org_accounts(&self, parent: &str) -> Result<Vec<OrgAccount>, CloudError>;
}

/// Every AWS call the engine makes, one trait per service. Region-scoped calls take the region;
/// IAM and STS are global. Reads of absent things return `Ok(None)`, not an error. Used as
/// `&dyn Cloud`; bring [`prelude`] into scope to call the methods.
pub trait Cloud:
    Sts
    + Kms
    + S3
    + Logs
    + Iam
    + Bedrock
    + Trail
    + SecurityHub
    + Sqs
    + Events
    + Discovery
    + Organizations
{
}

impl<
    T: Sts
        + Kms
        + S3
        + Logs
        + Iam
        + Bedrock
        + Trail
        + SecurityHub
        + Sqs
        + Events
        + Discovery
        + Organizations
        + ?Sized,
> Cloud for T
{
}

/// Security Hub: compliance findings exported in the AWS Security Finding Format.
#[async_trait]
pub trait SecurityHub: Send + Sync {
    /// `BatchImportFindings` of ASFF findings (at most 100 per call; the caller batches).
    /// Returns the findings Security Hub refused.
    async fn securityhub_import(
        &self,
        region: &str,
        findings: &[serde_json::Value],
    ) -> Result<Vec<ImportFailure>, CloudError>;
}

/// The service traits, for callers of [`Cloud`] methods.
pub mod prelude {
    pub use super::{
        Bedrock, Cloud, Discovery, Events, Iam, Kms, Logs, Organizations, S3, SecurityHub, Sqs,
        Sts, Trail,
    };
}

/// Which account a policy acts in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AccountTarget {
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
}

/// Builds a [`Cloud`] for an account (assuming the role when one is given), cached per target.
#[async_trait]
pub trait CloudFactory: Send + Sync {
    async fn cloud_for(
        &self,
        target: &AccountTarget,
        session_name: &str,
    ) -> Result<Arc<dyn Cloud>, CloudError>;
}
