//! Plan: desired vs observed → the typed changes to make, in dependency order. Pure: no I/O,
//! no clock. Changes that the spec forbids us to make (verify-only settings) are not planned;
//! the findings report them instead.

use serde_json::Value;

use super::EngineError;
use super::change::{Change, KeyRef};
use super::desired::{BucketDesired, KeyDesired, RegionDesired};
use super::judge;
pub use super::judge::key_matches;
use super::observe::{BucketObserved, KeyObserved, RegionObserved};
use crate::cloud::BucketPresence;
use crate::policy_doc::{bucket_policy, key_policy, merge_by_sid, parse_document};

/// The changes for one region, before (destinations) and after (Bedrock) the global role step.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegionPlan {
    pub destinations: Vec<Change>,
    pub bedrock: Vec<Change>,
    /// The tamper-response wiring, written after Bedrock so it never delays logging.
    pub tamper: Vec<Change>,
}

impl RegionPlan {
    pub fn is_empty(&self) -> bool {
        self.destinations.is_empty() && self.bedrock.is_empty() && self.tamper.is_empty()
    }
    pub fn all(&self) -> impl Iterator<Item = &Change> {
        self.destinations
            .iter()
            .chain(self.bedrock.iter())
            .chain(self.tamper.iter())
    }
}

/// Check what needs AWS to check and cannot be fixed by writing (terminal errors).
pub fn check_blockers(d: &RegionDesired, o: &RegionObserved) -> Result<(), EngineError> {
    if let Some(k) = &o.key {
        check_key_usable(d, k)?;
    }
    for (want, seen) in [
        (d.bucket.as_ref(), o.bucket.as_ref()),
        (d.large_bucket.as_ref(), o.large_bucket_view(d)),
    ] {
        if let (Some(want), Some(seen)) = (want, seen) {
            check_bucket_usable(d, want, seen)?;
        }
    }
    if let Some(g) = &d.log_group
        && !g.create
        && o.log_group.is_none()
    {
        return Err(EngineError::spec(
            "spec.cloudWatch.logGroupName",
            format!(
                "log group {} does not exist in {} and cloudWatch.create is false: create it or set create: true",
                g.name, d.region
            ),
        ));
    }
    Ok(())
}

fn check_key_usable(d: &RegionDesired, k: &KeyObserved) -> Result<(), EngineError> {
    let i = &k.info;
    let which = match &d.key {
        KeyDesired::Existing { reference } => format!("key {reference}"),
        KeyDesired::Create { alias, .. } => format!("key {alias} ({})", i.arn),
    };
    if i.manager == "AWS" {
        return Err(EngineError::KeyUnusable(format!(
            "{which} in {} is AWS-managed: Bedrock logging needs a customer-managed key",
            d.region
        )));
    }
    if !i.is_symmetric_encrypt() {
        return Err(EngineError::KeyUnusable(format!(
            "{which} in {} is {} / {}: Bedrock and CloudWatch Logs need a symmetric ENCRYPT_DECRYPT key (SYMMETRIC_DEFAULT)",
            d.region, i.spec, i.usage
        )));
    }
    if i.state == "PendingDeletion" || i.state == "PendingReplicaDeletion" {
        return Err(EngineError::KeyUnusable(format!(
            "{which} in {} is pending deletion: cancel the deletion (kms cancel-key-deletion, then enable it) or point the policy at another key",
            d.region
        )));
    }
    if !i.enabled || i.state != "Enabled" {
        return Err(EngineError::KeyUnusable(format!(
            "{which} in {} is {}: enable it (kms enable-key) or point the policy at another key",
            d.region,
            if i.state.is_empty() {
                "disabled"
            } else {
                &i.state
            }
        )));
    }
    Ok(())
}

fn check_bucket_usable(
    d: &RegionDesired,
    want: &BucketDesired,
    seen: &BucketObserved,
) -> Result<(), EngineError> {
    match seen.presence {
        BucketPresence::Missing if !want.create => Err(EngineError::spec(
            want.field,
            format!(
                "bucket {} does not exist and create is false: create the bucket in {} or set create: true",
                want.name, d.region
            ),
        )),
        BucketPresence::Foreign => Err(EngineError::spec(
            want.field,
            format!(
                "bucket {} exists but this account cannot access it (owned by another account, or s3:GetEncryptionConfiguration is denied): choose another bucket name",
                want.name
            ),
        )),
        BucketPresence::OtherRegion => Err(EngineError::spec(
            want.field,
            format!(
                "bucket {} exists in another region; Bedrock in {} only writes to a bucket in {}: use a name with {{region}} or another bucket",
                want.name, d.region, d.region
            ),
        )),
        _ => Ok(()),
    }
}

/// The observed key, or the one this plan creates.
pub fn key_ref(o: &RegionObserved) -> KeyRef {
    match &o.key {
        Some(k) => KeyRef::Known(k.info.arn.clone()),
        None => KeyRef::New,
    }
}

/// The alias that names the policy's key, when the spec gives one.
pub fn alias_of(d: &RegionDesired) -> Option<&str> {
    match &d.key {
        KeyDesired::Create { alias, .. } => Some(alias),
        KeyDesired::Existing { reference }
            if reference.starts_with("alias/") || reference.contains(":alias/") =>
        {
            Some(reference.rsplit(':').next().unwrap_or(reference))
        }
        KeyDesired::Existing { .. } => None,
    }
}

fn plan_key(
    d: &RegionDesired,
    o: &RegionObserved,
    out: &mut Vec<Change>,
) -> Result<(), EngineError> {
    let log_group = d.log_group.as_ref().map(|g| g.name.as_str());
    match (&d.key, &o.key) {
        (KeyDesired::Create { alias, rotation }, None) => {
            out.push(Change::CreateKey {
                alias: alias.clone(),
                policy: key_policy::initial_policy(&d.region, &d.account, log_group),
            });
            out.push(Change::CreateAlias {
                alias: alias.clone(),
                key: KeyRef::New,
            });
            if *rotation {
                out.push(Change::EnableKeyRotation { key: KeyRef::New });
            }
        }
        (desired, Some(k)) => {
            let key = KeyRef::Known(k.info.arn.clone());
            if let KeyDesired::Create { alias, rotation } = desired {
                if !k.alias_present {
                    out.push(Change::CreateAlias {
                        alias: alias.clone(),
                        key: key.clone(),
                    });
                }
                if *rotation && !k.rotation {
                    out.push(Change::EnableKeyRotation { key: key.clone() });
                }
            }
            if d.manage_key_policy && !k.policy_readable {
                return Err(EngineError::KeyUnusable(format!(
                    "key {} (spec.kmsKey.existing) belongs to another account, whose key policy KMS does not let this account read or change: set spec.kmsKey.managePolicy: false and grant the CloudWatch Logs and Bedrock statements in the key's own account",
                    k.info.arn
                )));
            }
            if d.manage_key_policy {
                let current = parse_document(&k.policy).map_err(|e| {
                    EngineError::KeyUnusable(format!(
                        "key policy of {} cannot be read: {e}",
                        k.info.arn
                    ))
                })?;
                let merged = merge_by_sid(
                    Some(&current),
                    &key_policy::desired_statements(&d.region, &d.account, log_group),
                );
                if !merged.is_noop() {
                    out.push(Change::PutKeyPolicy {
                        key,
                        document: merged.document,
                        summary: merged.changed,
                    });
                }
            }
        }
        (KeyDesired::Existing { .. }, None) => {} // observe() already failed with KeyUnusable
    }
    Ok(())
}

fn plan_bucket(
    d: &RegionDesired,
    want: &BucketDesired,
    seen: Option<&BucketObserved>,
    statements: Vec<Value>,
    key: &KeyRef,
    out: &mut Vec<Change>,
) -> Result<(), EngineError> {
    let missing = seen.is_none_or(|s| s.presence == BucketPresence::Missing);
    let b = &want.name;
    if missing {
        out.push(Change::CreateBucket { bucket: b.clone() });
    }
    let seen = seen.filter(|_| !missing);
    if !judge::acls_disabled(seen.and_then(|s| s.ownership.as_deref())) {
        out.push(Change::PutOwnershipEnforced { bucket: b.clone() });
    }
    if !judge::public_access_blocked(seen.and_then(|s| s.public_access_block)) {
        out.push(Change::PutPublicAccessBlock { bucket: b.clone() });
    }
    let enc = seen.and_then(|s| s.encryption.as_ref());
    if judge::bucket_encryption_problem(enc, key, alias_of(d), "").is_some() {
        let was = match enc {
            None => "none".to_string(),
            Some(e) => format!(
                "{}{}{}",
                e.algorithm,
                e.kms_key_id
                    .as_deref()
                    .map(|k| format!(" with {k}"))
                    .unwrap_or_default(),
                if e.bucket_key_enabled {
                    ""
                } else {
                    ", no bucket key"
                }
            ),
        };
        out.push(Change::PutBucketEncryption {
            bucket: b.clone(),
            key: key.clone(),
            was,
        });
    }
    let current = match seen.and_then(|s| s.policy.as_deref()) {
        Some(text) => Some(parse_document(text).map_err(|e| {
            EngineError::spec(
                want.field,
                format!("the existing policy of bucket {b} cannot be parsed ({e}): fix it by hand"),
            )
        })?),
        None => None,
    };
    let merged = merge_by_sid(current.as_ref(), &statements);
    if !merged.is_noop() {
        out.push(Change::PutBucketPolicy {
            bucket: b.clone(),
            document: merged.document,
            summary: merged.changed,
        });
    }
    Ok(())
}

/// Plan one region. Returns a terminal error (and plans nothing) when the region cannot be
/// converged without a change to the spec or to AWS by hand.
pub fn plan_region(d: &RegionDesired, o: &RegionObserved) -> Result<RegionPlan, EngineError> {
    check_blockers(d, o)?;
    let mut out = Vec::new();
    plan_key(d, o, &mut out)?;
    let key = key_ref(o);
    let (r, a) = (d.region.as_str(), d.account.as_str());

    let same_bucket =
        matches!((&d.bucket, &d.large_bucket), (Some(b), Some(l)) if b.name == l.name);
    if let Some(b) = &d.bucket {
        let mut stmts = vec![bucket_policy::logs_write_statement(
            r,
            a,
            &b.name,
            b.prefix.as_deref(),
        )];
        if same_bucket && let Some(l) = &d.large_bucket {
            stmts.push(bucket_policy::large_data_write_statement(
                r,
                a,
                &l.name,
                l.prefix.as_deref(),
            ));
        }
        plan_bucket(d, b, o.bucket.as_ref(), stmts, &key, &mut out)?;
    }
    if let Some(l) = &d.large_bucket
        && !same_bucket
    {
        let stmts = vec![bucket_policy::large_data_write_statement(
            r,
            a,
            &l.name,
            l.prefix.as_deref(),
        )];
        plan_bucket(d, l, o.large_bucket.as_ref(), stmts, &key, &mut out)?;
    }

    if let Some(g) = &d.log_group {
        match &o.log_group {
            None => out.push(Change::CreateLogGroup {
                name: g.name.clone(),
                key: key.clone(),
            }),
            Some(seen) => {
                if !judge::log_group_key_ok(seen.kms_key_id.as_deref(), &key, alias_of(d)) {
                    out.push(Change::AssociateLogGroupKey {
                        name: g.name.clone(),
                        key: key.clone(),
                    });
                }
            }
        }
        let current_retention = o.log_group.as_ref().and_then(|s| s.retention_in_days);
        if let Some(days) = g.retention
            && !judge::retention_ok(Some(days), current_retention)
        {
            out.push(Change::PutRetention {
                name: g.name.clone(),
                days,
            });
        }
    }

    let tamper = match (&d.tamper, &o.tamper) {
        (Some(t), Some(seen)) => super::tamper::plan_tamper(t, seen),
        _ => vec![],
    };
    Ok(RegionPlan {
        destinations: out,
        bedrock: plan_bedrock(d, o),
        tamper,
    })
}

/// The Bedrock step: put the logging configuration when it is off or differs.
pub fn plan_bedrock(d: &RegionDesired, o: &RegionObserved) -> Vec<Change> {
    let desired = d.logging_config();
    if judge::logging_ok(&desired, o.logging.as_ref()) {
        return vec![];
    }
    vec![Change::PutLoggingConfig {
        config: desired,
        was_configured: o.logging.as_ref().is_some_and(|l| l.is_configured()),
    }]
}

/// Statements this region needs in the key policy that are missing (for verify-only keys).
pub fn missing_key_statements(d: &RegionDesired, policy_text: &str) -> Vec<String> {
    let Ok(current) = parse_document(policy_text) else {
        return vec!["(unreadable key policy)".into()];
    };
    let desired = key_policy::desired_statements(
        &d.region,
        &d.account,
        d.log_group.as_ref().map(|g| g.name.as_str()),
    );
    merge_by_sid(Some(&current), &desired).changed
}
