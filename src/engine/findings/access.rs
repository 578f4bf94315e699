//! Findings on access: public access block, ACLs, the delivery role's confused-deputy protection.

use super::*;

pub(super) fn buckets<'a>(
    d: &'a RegionDesired,
    o: &'a RegionObserved,
) -> Vec<(&'a str, Option<&'a BucketObserved>)> {
    let mut out = Vec::new();
    if let Some(b) = &d.bucket {
        out.push((b.name.as_str(), o.bucket.as_ref()));
    }
    if let Some(l) = &d.large_bucket
        && d.bucket.as_ref().map(|b| &b.name) != Some(&l.name)
    {
        out.push((l.name.as_str(), o.large_bucket.as_ref()));
    }
    out
}

pub(super) fn bucket_checks(d: &RegionDesired, o: &RegionObserved) -> Vec<Finding> {
    let list = buckets(d, o);
    if list.is_empty() {
        return vec![
            skip(BUCKET_PUBLIC_ACCESS, "no S3 destination in the policy"),
            skip(BUCKET_ACLS, "no S3 destination in the policy"),
        ];
    }
    let mut pab = Vec::new();
    let mut acl = Vec::new();
    for (name, seen) in list {
        let Some(b) = seen.filter(|b| b.presence == BucketPresence::Owned) else {
            pab.push(format!("bucket {name} does not exist"));
            acl.push(format!("bucket {name} does not exist"));
            continue;
        };
        if !judge::public_access_blocked(b.public_access_block) {
            pab.push(format!("bucket {name} does not block all public access: turn on all four public access block settings"));
        }
        if !judge::acls_disabled(b.ownership.as_deref()) {
            acl.push(format!(
                "bucket {name} object ownership is {}: set BucketOwnerEnforced (ACLs disabled, required by Bedrock)",
                b.ownership.as_deref().unwrap_or("unset (ACLs enabled)")
            ));
        }
    }
    vec![
        if pab.is_empty() {
            pass(BUCKET_PUBLIC_ACCESS, "all public access blocked")
        } else {
            fail(BUCKET_PUBLIC_ACCESS, pab.join("; "))
        },
        if acl.is_empty() {
            pass(BUCKET_ACLS, "ACLs disabled (BucketOwnerEnforced)")
        } else {
            fail(BUCKET_ACLS, acl.join("; "))
        },
    ]
}

pub(super) fn confused_deputy(d: &RegionDesired, role: Option<&RoleObserved>) -> Finding {
    let Some(want) = &d.role else {
        return skip(
            ROLE_CONFUSED_DEPUTY,
            "no CloudWatch destination, so no delivery role",
        );
    };
    let Some(info) = role.and_then(|r| r.role.as_ref()) else {
        return fail(
            ROLE_CONFUSED_DEPUTY,
            format!("role {} does not exist", want.name()),
        );
    };
    let Ok(doc) = parse_document(&info.trust_policy) else {
        return fail(
            ROLE_CONFUSED_DEPUTY,
            format!("trust policy of {} cannot be parsed", info.arn),
        );
    };
    let source_arn = bedrock_source_arn(&d.region, &d.account);
    let fix = match want {
        RoleDesired::Managed { .. } => "apply the policy to correct it",
        RoleDesired::Existing { .. } => {
            "add aws:SourceAccount and aws:SourceArn conditions to its trust policy"
        }
    };
    match judge::trust_verdict(&doc, &d.account, &d.region) {
        TrustVerdict::Protected => pass(
            ROLE_CONFUSED_DEPUTY,
            format!(
                "{} trust is limited to Bedrock in {} of {}",
                info.arn, d.region, d.account
            ),
        ),
        TrustVerdict::Unprotected(why) => fail(
            ROLE_CONFUSED_DEPUTY,
            format!(
                "{} trust does not restrict bedrock.amazonaws.com to SourceAccount {} and SourceArn {source_arn} ({why}): {fix}",
                info.arn, d.account
            ),
        ),
        TrustVerdict::NotAdmitted(why) => fail(
            ROLE_CONFUSED_DEPUTY,
            format!(
                "{} trust does not let Bedrock in {} assume it ({why}): {fix}",
                info.arn, d.region
            ),
        ),
    }
}
