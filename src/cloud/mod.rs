//! The AWS boundary. Every `aws_sdk_*` import lives in [`sdk`]; the engine sees only the
//! [`Cloud`] trait and the plain data in [`model`]. [`fake`] is an in-memory AWS for unit tests.

pub mod error;
pub mod fake;
pub mod model;
pub mod sdk;

use std::sync::Arc;

use async_trait::async_trait;

pub use error::{CloudError, ErrorKind};
pub use model::*;

/// Tags are (key, value) pairs.
pub type Tags = Vec<(String, String)>;

/// Every AWS call the engine makes. Region-scoped calls take the region; IAM and STS are global.
/// Reads of absent things return `Ok(None)`, not an error.
#[async_trait]
pub trait Cloud: Send + Sync {
    // STS
    async fn account_id(&self) -> Result<String, CloudError>;

    // KMS
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

    // S3
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

    // CloudWatch Logs
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

    // IAM (global)
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

    // Bedrock
    async fn bedrock_get_logging(&self, region: &str) -> Result<Option<LoggingConfig>, CloudError>;
    async fn bedrock_put_logging(
        &self,
        region: &str,
        config: &LoggingConfig,
    ) -> Result<(), CloudError>;
    async fn bedrock_delete_logging(&self, region: &str) -> Result<(), CloudError>;

    // CloudTrail
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
