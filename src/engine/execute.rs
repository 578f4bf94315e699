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
    /// Whether this pass may write at all (Enforce and not a dry run). The last guard of the
    /// mode rule: with `false`, `execute` makes no AWS call whatever it is given.
    pub writes: bool,
    pub cloud: &'a dyn Cloud,
    /// The region for region-scoped changes ("" for global ones).
    pub region: &'a str,
    pub tags: Tags,
    pub policy: &'a str,
    /// How long to keep retrying Bedrock's permission-propagation error.
    pub permission_retry: Duration,
    /// How long to retry in place the errors AWS gives right after a create (eventual
    /// consistency of KMS, IAM and CloudWatch Logs' view of a new key).
    pub consistency_retry: Duration,
}

/// An error AWS documents for a short while after a create or policy change, not a verdict:
/// NotFound on a key's alias / rotation / policy just after CreateKey, CloudWatch Logs' "KMS key
/// does not exist or is not allowed" on a new key, NoSuchEntity on a role just created. Only
/// retried when this execution made the create (`recent`): otherwise it is the answer.
pub fn is_eventual_consistency(change: &Change, e: &CloudError, recent: bool) -> bool {
    recent && is_consistency_error(change, e)
}

fn is_consistency_error(change: &Change, e: &CloudError) -> bool {
    match change {
        Change::CreateAlias { .. }
        | Change::EnableKeyRotation { .. }
        | Change::PutKeyPolicy { .. }
        | Change::PutRolePolicy { .. }
        | Change::UpdateTrust { .. } => e.kind == ErrorKind::NotFound,
        Change::CreateLogGroup { .. } | Change::AssociateLogGroupKey { .. } => {
            e.kind == ErrorKind::AccessDenied && e.message.to_ascii_lowercase().contains("kms key")
        }
        _ => false,
    }
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
            let description = format!(
                "Amazon Bedrock model invocation logs ({alias}, bedrock-logging-operator policy {})",
                cx.policy
            );
            // ListKeys lags behind CreateKey: a key created just before a crash may not have
            // been listed by observe. Look once more before making another one.
            tokio::time::sleep(RELIST_DELAY).await;
            if let Some(arn) = oldest_tagged_key(cx).await? {
                tracing::warn!(region = r, key = %arn, "a key tagged for this policy appeared on a second listing: adopting it instead of creating another");
                // It may not carry the statements CreateKey would have set: merge them.
                let current = c.kms_get_key_policy(r, &arn).await?;
                let current = crate::policy_doc::parse_document(&current).map_err(|e| {
                    EngineError::KeyUnusable(format!("key policy of {arn} cannot be read: {e}"))
                })?;
                let merged = crate::policy_doc::merge_by_sid(
                    Some(&current),
                    &crate::policy_doc::statements(policy),
                );
                if !merged.is_noop() {
                    c.kms_put_key_policy(r, &arn, &to_text(&merged.document))
                        .await?;
                }
                *created = Some(arn);
                return Ok(());
            }
            match c
                .kms_create_key(r, &description, &to_text(policy), &cx.tags)
                .await
            {
                Ok(info) => *created = Some(info.arn),
                // The response was lost (timeout, 5xx): the key may exist. Look for it (ListKeys
                // lags behind CreateKey) before anyone creates another.
                Err(e) if e.kind == ErrorKind::Unavailable => match find_created_key(cx).await? {
                    Some(arn) => *created = Some(arn),
                    None => return Err(e.into()),
                },
                Err(e) => return Err(e.into()),
            }
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
            iam_limit(
                name,
                c.iam_create_role(name, &to_text(trust), &cx.tags).await,
            )?;
        }
        Change::UpdateTrust { name, document, .. } => {
            iam_limit(name, c.iam_update_trust(name, &to_text(document)).await)?
        }
        Change::PutRolePolicy {
            name,
            policy_name,
            document,
        } => iam_limit(
            name,
            c.iam_put_role_policy(name, policy_name, &to_text(document))
                .await,
        )?,
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
        Change::DeleteLoggingConfig => c.bedrock_delete_logging(r).await?,
        Change::CreateQueue { name, attributes } => {
            c.sqs_create_queue(r, name, attributes, &cx.tags).await?;
        }
        Change::SetQueueAttributes {
            url, attributes, ..
        } => c.sqs_set_attributes(r, url, attributes).await?,
        Change::PutTamperRule { name, pattern, .. } => {
            let description = format!(
                "bedrock-logging-operator policy {}: API calls that can undo Bedrock invocation logging",
                cx.policy
            );
            c.events_put_rule(r, name, pattern, &description, &cx.tags)
                .await?;
        }
        Change::PutRuleTarget { rule, target } => c.events_put_target(r, rule, target).await?,
    }
    Ok(())
}

/// How long to wait before the second listing that precedes a CreateKey.
const RELIST_DELAY: Duration = Duration::from_millis(150);

/// The oldest key tagged for this policy in the region, if any.
async fn oldest_tagged_key(cx: &ExecContext<'_>) -> Result<Option<String>, EngineError> {
    let Some((tag, value)) = cx.tags.first() else {
        return Ok(None);
    };
    Ok(cx
        .cloud
        .kms_find_tagged_keys(cx.region, tag, value)
        .await?
        .into_iter()
        .next()
        .map(|k| k.arn))
}

/// After a lost CreateKey response: the oldest key tagged for this policy, re-listed for up to
/// `consistency_retry` (ListKeys lags behind CreateKey).
async fn find_created_key(cx: &ExecContext<'_>) -> Result<Option<String>, EngineError> {
    let start = Instant::now();
    loop {
        if let Some(arn) = oldest_tagged_key(cx).await? {
            tracing::warn!(region = cx.region, key = %arn, "CreateKey response was lost; the key it created was found by its tag");
            return Ok(Some(arn));
        }
        if start.elapsed() >= cx.consistency_retry {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// IAM's size quotas count every policy on a shared role, which the plan cannot see whole: a
/// `LimitExceeded` is a terminal spec error naming the field, never a retry loop.
fn iam_limit<T>(role: &str, r: Result<T, CloudError>) -> Result<T, EngineError> {
    r.map_err(|e| {
        if e.code.as_deref() == Some("LimitExceeded") {
            EngineError::spec(
                "spec.cloudWatch.roleName",
                format!(
                    "IAM refused the policies of role {role} as too large ({}): several policies share this role; give this policy its own spec.cloudWatch.roleName or raise the IAM quota",
                    e.message
                ),
            )
        } else {
            e.into()
        }
    })
}

/// One change, retried in place while AWS is still catching up with a create.
async fn apply_consistent(
    cx: &ExecContext<'_>,
    change: &Change,
    created: &mut Option<String>,
    recent: bool,
) -> Result<(), EngineError> {
    let start = Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        match apply_one(cx, change, created).await {
            Err(EngineError::Cloud(e))
                if is_eventual_consistency(change, &e, recent)
                    && start.elapsed() + delay <= cx.consistency_retry =>
            {
                tracing::info!(region = cx.region, change = %change.describe(), error = %e, "AWS has not caught up with a create yet; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            other => return other,
        }
    }
}

/// Apply `changes` in order; stop at the first error.
pub async fn execute(
    cx: &ExecContext<'_>,
    changes: &[Change],
    mut created: Option<String>,
) -> Executed {
    let mut out = Executed::default();
    if !cx.writes {
        tracing::error!(
            region = cx.region,
            changes = changes.len(),
            "refusing to write in a pass that may not write (Audit or dry run)"
        );
        return out;
    }
    // A key, key policy or role this execution created or changed: AWS may not show it yet.
    let mut recent = false;
    for change in changes {
        match apply_consistent(cx, change, &mut created, recent).await {
            Ok(()) => {
                recent |= matches!(
                    change,
                    Change::CreateKey { .. }
                        | Change::PutKeyPolicy { .. }
                        | Change::CreateRole { .. }
                );
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
