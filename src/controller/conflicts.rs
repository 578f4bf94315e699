//! Ownership of account+region pairs between policies: the older policy (creationTimestamp,
//! then name) owns a pair; the others report Conflict there and write nothing. Pure.

use std::collections::BTreeMap;

use kube::ResourceExt;

use crate::api::BedrockLoggingPolicy;

/// Which account a policy governs, as far as can be told before calling AWS: the pinned id,
/// else the account the last pass saw, else the role it assumes (or the operator's own).
pub fn account_key(p: &BedrockLoggingPolicy) -> String {
    let account = p.spec.account.as_ref();
    if let Some(id) = account.and_then(|a| a.id.clone()) {
        return format!("id:{id}");
    }
    if let Some(id) = p.status.as_ref().and_then(|s| s.account_id.clone()) {
        return format!("id:{id}");
    }
    match account.and_then(|a| a.role_arn.as_deref()) {
        Some(arn) => match arn.split(':').nth(4) {
            Some(acct) if acct.len() == 12 => format!("id:{acct}"),
            _ => format!("role:{arn}"),
        },
        None => "self".to_string(),
    }
}

fn age_key(p: &BedrockLoggingPolicy) -> (Option<String>, String) {
    (
        p.metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.to_string()),
        p.name_any(),
    )
}

/// Regions of `me` owned by an older policy of the same account: region → owner name.
pub fn conflicts_for(
    me: &BedrockLoggingPolicy,
    all: &[BedrockLoggingPolicy],
) -> BTreeMap<String, String> {
    let mine = account_key(me);
    let my_age = age_key(me);
    let mut out = BTreeMap::new();
    for other in all {
        if other.name_any() == me.name_any() || account_key(other) != mine {
            continue;
        }
        if age_key(other) >= my_age {
            continue;
        }
        for r in &other.spec.regions {
            if me.spec.regions.contains(r) {
                out.entry(r.clone()).or_insert_with(|| other.name_any());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn policy(name: &str, created: i64, regions: &[&str]) -> BedrockLoggingPolicy {
        let yaml = format!(
            "apiVersion: bedrocklogging.io/v1alpha1\nkind: BedrockLoggingPolicy\nmetadata: {{name: {name}}}\nspec:\n  regions: [{}]\n  kmsKey: {{create: {{alias: alias/x}}}}\n  s3: {{bucketName: \"b-{{region}}\"}}\n",
            regions.join(", ")
        );
        let mut p: BedrockLoggingPolicy = serde_yaml::from_str(&yaml).unwrap();
        p.metadata.creation_timestamp = Some(Time(Timestamp::from_second(created).unwrap()));
        p
    }

    #[test]
    fn older_policy_owns_shared_regions() {
        let old = policy("old", 100, &["us-east-1", "eu-west-1"]);
        let new = policy("new", 200, &["us-east-1", "us-west-2"]);
        let all = vec![old.clone(), new.clone()];
        assert!(conflicts_for(&old, &all).is_empty());
        let c = conflicts_for(&new, &all);
        assert_eq!(c.len(), 1);
        assert_eq!(c["us-east-1"], "old");
    }

    #[test]
    fn same_age_breaks_ties_by_name_and_other_accounts_do_not_conflict() {
        let a = policy("a", 100, &["us-east-1"]);
        let b = policy("b", 100, &["us-east-1"]);
        assert!(conflicts_for(&a, &[a.clone(), b.clone()]).is_empty());
        assert_eq!(conflicts_for(&b, &[a.clone(), b.clone()])["us-east-1"], "a");
        let mut other = policy("c", 50, &["us-east-1"]);
        other.spec.account = Some(crate::api::AccountSpec {
            id: Some("210987654321".into()),
            ..Default::default()
        });
        assert!(
            conflicts_for(&b, &[a.clone(), b.clone(), other])
                .get("us-east-1")
                .is_some_and(|o| o == "a")
        );
    }
}
