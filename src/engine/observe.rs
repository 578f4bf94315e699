//! Observe: the AWS reads of one region (and the global IAM reads), into plain data.

use crate::cloud::{
    BucketEncryption, BucketPresence, Cloud, KeyInfo, LogGroupInfo, LoggingConfig,
    PublicAccessBlock, RoleInfo,
};

use super::EngineError;
use super::desired::{KeyDesired, POLICY_TAG, RegionDesired, RoleDesired, TrailDesired};
use super::findings::TrailObserved;
use crate::policy_doc::role_policy::inline_policy_name;

#[derive(Debug, Clone, PartialEq)]
pub struct KeyObserved {
    pub info: KeyInfo,
    /// False when the key was found by its tag (crash between CreateKey and CreateAlias).
    pub alias_present: bool,
    pub rotation: bool,
    pub policy: String,
    /// False for a key of another account: KMS does not allow GetKeyPolicy across accounts.
    pub policy_readable: bool,
    /// Other keys tagged for this policy (a lost CreateKey response made a duplicate): never
    /// deleted, reported so a human can schedule their deletion.
    pub extra_keys: Vec<String>,
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
    /// The tamper-response wiring, when the policy asks for it.
    pub tamper: Option<super::tamper::TamperObserved>,
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
    let mut extra_keys = Vec::new();
    let found = match &d.key {
        KeyDesired::Create { alias, .. } => match cloud.kms_describe_key(r, alias).await? {
            Some(info) => Some((info, true)),
            None if lookup == Lookup::ReadOnly => None,
            None => {
                // The oldest tagged key gets the alias, so the choice never flaps.
                let mut tagged = cloud.kms_find_tagged_keys(r, POLICY_TAG, &d.policy).await?;
                let oldest = (!tagged.is_empty()).then(|| tagged.remove(0));
                extra_keys = tagged.into_iter().map(|k| k.arn).collect();
                oldest.map(|info| (info, false))
            }
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
    // A key of another account is only reachable by its ARN.
    let foreign = info.arn.split(':').nth(4).is_some_and(|a| a != d.account);
    let id = if foreign { &info.arn } else { &info.key_id };
    let rotation = if usable && info.is_symmetric_encrypt() {
        cloud.kms_rotation_enabled(r, id).await?
    } else {
        false
    };
    let (policy, policy_readable) = match cloud.kms_get_key_policy(r, id).await {
        Ok(p) => (p, true),
        Err(e) if foreign && e.kind == crate::cloud::ErrorKind::AccessDenied => {
            (String::new(), false)
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Some(KeyObserved {
        info,
        alias_present,
        rotation,
        policy,
        policy_readable,
        extra_keys,
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

/// All region-scoped reads (≤ 13: 3 KMS, 4 per distinct bucket, 1 logs, 1 Bedrock; with
/// tamper response 3 more: 1 SQS once the queue URL is known, 2 EventBridge).
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
    let tamper = match &d.tamper {
        Some(t) => Some(super::tamper::observe_tamper(cloud, &d.region, t).await?),
        None => None,
    };
    Ok(RegionObserved {
        key,
        bucket,
        large_bucket,
        log_group,
        logging,
        tamper,
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

/// The trail, wherever it lives: by ARN in its home region; by name in the asking region (which
/// sees its own trails and multi-region ones), else through ListTrails (every region's trails).
/// Then its selectors and whether it is logging, from its home region.
pub async fn observe_trail(
    cloud: &dyn Cloud,
    t: &TrailDesired,
) -> Result<TrailObserved, EngineError> {
    let ask = t.home_region.as_deref().unwrap_or(&t.ask_region);
    let mut found = cloud.trail_get(ask, &t.name).await?;
    if found.is_none() && t.home_region.is_none() {
        let listed = cloud.trail_list(ask).await?;
        if let Some(home) = listed
            .iter()
            .find(|l| l.name == t.name)
            .map(|l| l.home_region.clone())
        {
            found = cloud.trail_get(&home, &t.name).await?;
        }
        // Some endpoints list only the asking region's trails: ask the policy's other regions.
        for region in t.search_regions.iter().filter(|r| **r != ask) {
            if found.is_some() {
                break;
            }
            found = cloud.trail_get(region, &t.name).await?;
        }
    }
    let Some(info) = found else {
        return Ok(TrailObserved::Missing(t.name.clone()));
    };
    let selectors = cloud
        .trail_get_selectors(&info.home_region, &info.arn)
        .await?;
    let logging = cloud.trail_is_logging(&info.home_region, &info.arn).await?;
    Ok(TrailObserved::Found {
        info,
        selectors,
        logging,
    })
}
