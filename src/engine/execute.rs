//! Execute: make the planned AWS writes, in order, stopping at the first failure (later
//! changes depend on earlier ones; every change is idempotent, so the next pass resumes).

use std::time::{Duration, Instant};

use rand::Rng;

use super::EngineError;
use super::change::{Change, KeyRef};
use crate::cloud::{Cloud, CloudError, ErrorKind, LoggingConfig, Tags};
use crate::policy_doc::to_text;

/// Outcome of executing a list of changes.
#[derive(Debug, Default)]
pub struct Executed {
    pub applied: Vec<String>,
    pub error: Option<EngineError>,
    /// ARN of a key created by this run.
    pub created_key: Option<String>,
}

pub struct ExecContext<'a> {
    pub cloud: &'a dyn Cloud,
    /// The region for region-scoped changes ("" for global ones).
    pub region: &'a str,
    pub tags: Tags,
    pub policy: &'a str,
    /// How long to keep retrying Bedrock's permission-propagation error.
    pub permission_retry: Duration,
}

fn resolve(key: &KeyRef, created: &Option<String>) -> Result<String, EngineError> {
    match (key, created) {
        (KeyRef::Known(arn), _) => Ok(arn.clone()),
        (KeyRef::New, Some(arn)) => Ok(arn.clone()),
        (KeyRef::New, None) => Err(EngineError::KeyUnusable(
            "internal: the new key was not created before its use".into(),
        )),
    }
}

async fn put_logging_with_retry(
    cloud: &dyn Cloud,
    region: &str,
    config: &LoggingConfig,
    budget: Duration,
) -> Result<(), CloudError> {
    let start = Instant::now();
    let mut delay = Duration::from_millis(500);
    loop {
        match cloud.bedrock_put_logging(region, config).await {
            Err(e)
                if e.kind == ErrorKind::PermissionPropagation
                    && start.elapsed() + delay <= budget =>
            {
                let jitter = rand::rng().random_range(0..=delay.as_millis() as u64 / 2);
                tracing::info!(region, error = %e, "Bedrock cannot validate destination permissions yet; retrying");
                tokio::time::sleep(delay + Duration::from_millis(jitter)).await;
                delay = (delay * 2).min(Duration::from_secs(15));
            }
            other => return other,
        }
    }
}

async fn apply_one(
    cx: &ExecContext<'_>,
    change: &Change,
    created: &mut Option<String>,
) -> Result<(), EngineError> {
    let c = cx.cloud;
    let r = cx.region;
    match change {
        Change::CreateKey { alias, policy } => {
            let info = c
                .kms_create_key(r, &format!("Amazon Bedrock model invocation logs ({alias}, bedrock-logging-operator policy {})", cx.policy), &to_text(policy), &cx.tags)
                .await?;
            *created = Some(info.arn);
        }
        Change::CreateAlias { alias, key } => {
            c.kms_create_alias(r, alias, &resolve(key, created)?)
                .await?
        }
        Change::EnableKeyRotation { key } => {
            c.kms_enable_rotation(r, &resolve(key, created)?).await?
        }
        Change::PutKeyPolicy { key, document, .. } => {
            c.kms_put_key_policy(r, &resolve(key, created)?, &to_text(document))
                .await?
        }
        Change::CreateBucket { bucket } => c.s3_create_bucket(r, bucket, &cx.tags).await?,
        Change::PutOwnershipEnforced { bucket } => c.s3_put_ownership_enforced(r, bucket).await?,
        Change::PutPublicAccessBlock { bucket } => c.s3_put_public_access_block(r, bucket).await?,
        Change::PutBucketEncryption { bucket, key, .. } => {
            c.s3_put_encryption(r, bucket, &resolve(key, created)?)
                .await?
        }
        Change::PutBucketPolicy {
            bucket, document, ..
        } => c.s3_put_policy(r, bucket, &to_text(document)).await?,
        Change::CreateLogGroup { name, key } => {
            c.logs_create_group(r, name, &resolve(key, created)?, &cx.tags)
                .await?
        }
        Change::AssociateLogGroupKey { name, key } => {
            c.logs_associate_key(r, name, &resolve(key, created)?)
                .await?
        }
        Change::PutRetention { name, days } => c.logs_put_retention(r, name, *days).await?,
        Change::CreateRole { name, trust } => {
            c.iam_create_role(name, &to_text(trust), &cx.tags).await?;
        }
        Change::UpdateTrust { name, document, .. } => {
            c.iam_update_trust(name, &to_text(document)).await?
        }
        Change::PutRolePolicy {
            name,
            policy_name,
            document,
        } => {
            c.iam_put_role_policy(name, policy_name, &to_text(document))
                .await?
        }
        Change::PutLoggingConfig { config, .. } => {
            put_logging_with_retry(c, r, config, cx.permission_retry).await?
        }
        Change::PutTrailSelectors {
            trail,
            home_region,
            selectors,
            ..
        } => {
            c.trail_put_advanced_selectors(home_region, trail, selectors)
                .await?
        }
    }
    Ok(())
}

/// Apply `changes` in order; stop at the first error.
pub async fn execute(
    cx: &ExecContext<'_>,
    changes: &[Change],
    mut created: Option<String>,
) -> Executed {
    let mut out = Executed::default();
    for change in changes {
        match apply_one(cx, change, &mut created).await {
            Ok(()) => {
                let mut what = change.describe();
                if let Some(arn) = &created {
                    what = what.replace(&KeyRef::New.to_string(), arn);
                }
                tracing::info!(region = cx.region, change = %what, "applied");
                out.applied.push(what);
            }
            Err(e) => {
                tracing::warn!(region = cx.region, change = %change.describe(), error = %e, "change failed");
                out.error = Some(e);
                break;
            }
        }
    }
    out.created_key = created;
    out
}
