//! Which grant Bedrock lacks, for a "Failed to validate permissions" that outlasted the
//! propagation window. Pure: judged from what the pass observed.

use super::desired::{RegionDesired, RoleDesired};
use super::judge::{self, TrustVerdict};
use super::observe::{RegionObserved, RoleObserved};
use super::plan::missing_key_statements;
use crate::policy_doc::{bucket_policy, parse_document, statements};

/// A grant Bedrock needs that the operator may not add (a verify-only setting): a put will keep
/// failing until a human adds it, so there is nothing to wait for.
pub fn definite_gap(
    d: &RegionDesired,
    o: &RegionObserved,
    role: Option<&RoleObserved>,
) -> Option<String> {
    let mut out = Vec::new();
    if let Some(k) = o
        .key
        .as_ref()
        .filter(|k| k.policy_readable && !d.manage_key_policy)
    {
        let missing = missing_key_statements(d, &k.policy);
        if !missing.is_empty() {
            out.push(format!(
                "key policy of {} lacks {} (spec.kmsKey.managePolicy is false: add them to the key policy by hand)",
                k.info.arn,
                missing.join(", ")
            ));
        }
    }
    if let (Some(RoleDesired::Existing { .. }), Some(info)) =
        (&d.role, role.and_then(|r| r.role.as_ref()))
        && let Ok(doc) = parse_document(&info.trust_policy)
        && let TrustVerdict::NotAdmitted(why) = judge::trust_verdict(&doc, &d.account, &d.region)
    {
        out.push(format!(
            "role {} (spec.cloudWatch.roleArn, verified only) trust: {why}",
            info.arn
        ));
    }
    (!out.is_empty()).then(|| out.join("; "))
}

/// A sentence naming each missing grant and the field or resource to fix.
pub fn missing(d: &RegionDesired, o: &RegionObserved, role: Option<&RoleObserved>) -> String {
    let mut out = Vec::new();
    if let Some(k) = o.key.as_ref().filter(|k| k.policy_readable) {
        let missing = missing_key_statements(d, &k.policy);
        if !missing.is_empty() {
            let fix = if d.manage_key_policy {
                "the operator merges them on the next pass"
            } else {
                "spec.kmsKey.managePolicy is false: add them to the key policy by hand"
            };
            out.push(format!(
                "key policy of {} lacks {} ({fix})",
                k.info.arn,
                missing.join(", ")
            ));
        }
    }
    for (b, seen) in [
        (d.bucket.as_ref(), o.bucket.as_ref()),
        (d.large_bucket.as_ref(), o.large_bucket_view(d)),
    ] {
        let (Some(b), Some(seen)) = (b, seen) else {
            continue;
        };
        let has_bedrock = seen
            .policy
            .as_deref()
            .and_then(|t| parse_document(t).ok())
            .is_some_and(|doc| {
                statements(&doc).iter().any(|s| {
                    s.get("Sid").and_then(|v| v.as_str()).is_some_and(|sid| {
                        sid == bucket_policy::SID_LOGS_WRITE
                            || sid == bucket_policy::SID_LARGE_DATA_WRITE
                    })
                })
            });
        if !has_bedrock {
            out.push(format!(
                "bucket {} has no policy statement letting bedrock.amazonaws.com s3:PutObject",
                b.name
            ));
        }
        if !judge::acls_disabled(seen.ownership.as_deref()) {
            out.push(format!(
                "bucket {} has ACLs enabled (Bedrock requires BucketOwnerEnforced)",
                b.name
            ));
        }
    }
    if let Some(want) = &d.role {
        match role.and_then(|r| r.role.as_ref()) {
            None => out.push(format!("role {} does not exist", want.arn())),
            Some(info) => {
                if let Ok(doc) = parse_document(&info.trust_policy)
                    && let TrustVerdict::NotAdmitted(why) =
                        judge::trust_verdict(&doc, &d.account, &d.region)
                {
                    out.push(format!("role {} trust: {why}", info.arn));
                }
                if matches!(want, RoleDesired::Existing { .. }) {
                    out.push(format!(
                        "role {} (spec.cloudWatch.roleArn, verified only) must allow logs:CreateLogStream and logs:PutLogEvents on the log group and kms:GenerateDataKey on the key",
                        info.arn
                    ));
                }
            }
        }
    }
    if out.is_empty() {
        "no missing grant is visible to the operator: check the key policy (kms:GenerateDataKey for bedrock.amazonaws.com), the bucket policy and the role's trust and permissions, and any SCP or permission boundary".into()
    } else {
        out.join("; ")
    }
}
