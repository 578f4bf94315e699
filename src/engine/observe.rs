//! Observe: the AWS reads of one region (and the global IAM reads), into plain data.

use crate::cloud::{
    BucketEncryption, BucketPresence, Cloud, KeyInfo, LogGroupInfo, LoggingConfig,
    PublicAccessBlock, RoleInfo,
};

use super::EngineError;
use super::desired::{KeyDesired, POLICY_TAG, RegionDesired, RoleDesired};
use crate::policy_doc::role_policy::inline_policy_name;

#[derive(Debug, Clone, PartialEq)]
pub struct KeyObserved {
    pub info: KeyInfo,
    /// False when the key was found by its tag (crash between CreateKey and CreateAlias).
    pub alias_present: bool,
    pub rotation: bool,
    pub policy: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BucketObserved {
    pub presence: BucketPresence,
    pub encryption: Option<BucketEncryption>,
    pub public_access_block: Option<PublicAccessBlock>,
    pub ownership: Option<String>,
    pub policy: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegionObserved {
    pub key: Option<KeyObserved>,
    pub bucket: Option<BucketObserved>,
    /// None when there is no large-data bucket, or when it is the same bucket as `bucket`.
    pub large_bucket: Option<BucketObserved>,
    pub log_group: Option<LogGroupInfo>,
    pub logging: Option<LoggingConfig>,
}

/// Global (per policy) IAM state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoleObserved {
    pub role: Option<RoleInfo>,
    pub inline_policy: Option<String>,
}

/// How a region is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Also search for a tagged key without alias (crash recovery). It lists every key of the
    /// region, so only a pass that would otherwise create a key does it.
    BeforeWriting,
    /// Audit / dry run: the alias alone decides whether the key exists.
    ReadOnly,
}

pub async fn observe_key(
    cloud: &dyn Cloud,
    d: &RegionDesired,
    lookup: Lookup,
) -> Result<Option<KeyObserved>, EngineError> {
    let r = &d.region;
    let found = match &d.key {
        KeyDesired::Create { alias, .. } => match cloud.kms_describe_key(r, alias).await? {
            Some(info) => Some((info, true)),
            None if lookup == Lookup::ReadOnly => None,
            None => cloud
                .kms_find_tagged_key(r, POLICY_TAG, &d.policy)
                .await?
                .map(|info| (info, false)),
        },
        KeyDesired::Existing { reference } => match cloud.kms_describe_key(r, reference).await? {
            Some(info) => Some((info, true)),
            None => {
                return Err(EngineError::KeyUnusable(format!(
                    "key {reference} (spec.kmsKey.existing) was not found in {r}: create it, or fix the reference, or use kmsKey.create"
                )));
            }
        },
    };
    let Some((info, alias_present)) = found else {
        return Ok(None);
    };
    // Keys pending deletion or disabled cannot answer these reliably; report what we can.
    let usable = info.state == "Enabled";
    let rotation = if usable && info.is_symmetric_encrypt() {
        cloud.kms_rotation_enabled(r, &info.key_id).await?
    } else {
        false
    };
    let policy = cloud.kms_get_key_policy(r, &info.key_id).await?;
    Ok(Some(KeyObserved {
        info,
        alias_present,
        rotation,
        policy,
    }))
}

pub async fn observe_bucket(
    cloud: &dyn Cloud,
    region: &str,
    bucket: &str,
) -> Result<BucketObserved, EngineError> {
    let (presence, encryption) = cloud.s3_probe(region, bucket).await?;
    if presence != BucketPresence::Owned {
        return Ok(BucketObserved {
            presence,
            encryption: None,
            public_access_block: None,
            ownership: None,
            policy: None,
        });
    }
    Ok(BucketObserved {
        presence,
        encryption,
        public_access_block: cloud.s3_get_public_access_block(region, bucket).await?,
        ownership: cloud.s3_get_ownership(region, bucket).await?,
        policy: cloud.s3_get_policy(region, bucket).await?,
    })
}

/// All region-scoped reads (≤ 14: 3 KMS, 4 per distinct bucket, 1 logs, 1 Bedrock).
pub async fn observe_region(
    cloud: &dyn Cloud,
    d: &RegionDesired,
    lookup: Lookup,
) -> Result<RegionObserved, EngineError> {
    let key = observe_key(cloud, d, lookup).await?;
    let bucket = match &d.bucket {
        Some(b) => Some(observe_bucket(cloud, &d.region, &b.name).await?),
        None => None,
    };
    let large_bucket = match &d.large_bucket {
        Some(l) if d.bucket.as_ref().map(|b| &b.name) != Some(&l.name) => {
            Some(observe_bucket(cloud, &d.region, &l.name).await?)
        }
        _ => None,
    };
    let log_group = match &d.log_group {
        Some(g) => cloud.logs_describe_group(&d.region, &g.name).await?,
        None => None,
    };
    let logging = cloud.bedrock_get_logging(&d.region).await?;
    Ok(RegionObserved {
        key,
        bucket,
        large_bucket,
        log_group,
        logging,
    })
}

/// The role and this policy's inline policy on it.
pub async fn observe_role(
    cloud: &dyn Cloud,
    role: &RoleDesired,
    policy: &str,
) -> Result<RoleObserved, EngineError> {
    let info = cloud.iam_get_role(role.name()).await?;
    let inline_policy = match (&info, role) {
        (Some(_), RoleDesired::Managed { name, .. }) => {
            cloud
                .iam_get_role_policy(name, &inline_policy_name(policy))
                .await?
        }
        _ => None,
    };
    Ok(RoleObserved {
        role: info,
        inline_policy,
    })
}

impl RegionObserved {
    /// The observed large-data bucket (which may be the main bucket).
    pub fn large_bucket_view<'a>(&'a self, d: &RegionDesired) -> Option<&'a BucketObserved> {
        match (&d.bucket, &d.large_bucket) {
            (Some(b), Some(l)) if b.name == l.name => self.bucket.as_ref(),
            (_, Some(_)) => self.large_bucket.as_ref(),
            _ => None,
        }
    }
}
