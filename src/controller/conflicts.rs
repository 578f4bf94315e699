//! Ownership of account+region pairs between policies: the older policy (creationTimestamp,
//! then name) owns a pair; the others report Conflict there and write nothing. Pure.

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::ResourceExt;

use crate::api::BedrockLoggingPolicy;

/// The account a policy governs, as far as can be told without calling AWS for it: the
/// account of the role it assumes, else the operator's own account (when resolved). `None`:
/// not known yet, so it may be any account (never assumed to be elsewhere).
pub fn governed_account(
    p: &BedrockLoggingPolicy,
    operator_account: Option<&str>,
) -> Option<String> {
    match p.spec.account.as_ref().and_then(|a| a.role_arn.as_deref()) {
        Some(arn) => arn
            .split(':')
            .nth(4)
            .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
            .map(String::from),
        None => operator_account.map(String::from),
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

/// Regions of `me` (which governs `my_account`, resolved through STS) owned by an older policy
/// of the same account: region → owner name. A policy whose account is not known yet counts as
/// the same account: a region is never written while its owner is unknown.
pub fn conflicts_for(
    me: &BedrockLoggingPolicy,
    my_account: &str,
    my_regions: &[String],
    all: &[Arc<BedrockLoggingPolicy>],
    operator_account: Option<&str>,
) -> BTreeMap<String, String> {
    conflicts_with_members(
        me,
        my_account,
        my_regions,
        all,
        operator_account,
        &|_, _| None,
    )
}

/// [`conflicts_for`], knowing the member accounts organization policies last discovered
/// (`is_member(policy, account)`; None: not discovered yet, so any account).
pub fn conflicts_with_members(
    me: &BedrockLoggingPolicy,
    my_account: &str,
    my_regions: &[String],
    all: &[Arc<BedrockLoggingPolicy>],
    operator_account: Option<&str>,
    is_member: &(dyn Fn(&str, &str) -> Option<bool> + Sync),
) -> BTreeMap<String, String> {
    let my_age = age_key(me);
    let mut out = BTreeMap::new();
    for other in all {
        if other.name_any() == me.name_any() || age_key(other) >= my_age {
            continue;
        }
        let elsewhere = match &other.spec.accounts {
            // An organization policy governs its members (any account until they are listed).
            Some(_) => is_member(&other.name_any(), my_account) == Some(false),
            None => governed_account(other, operator_account).is_some_and(|a| a != my_account),
        };
        if elsewhere {
            continue;
        }
        for r in my_regions {
            if governs_region(other, r) {
                out.entry(r.clone()).or_insert_with(|| other.name_any());
            }
        }
    }
    out
}

/// Whether `p` governs region `r`: listed, or (allRegions) excluded neither by the spec nor by
/// what its last pass discovered. A region set not yet discovered counts as every region.
fn governs_region(p: &BedrockLoggingPolicy, r: &String) -> bool {
    match &p.spec.all_regions {
        None => p.spec.regions.contains(r),
        Some(all) if all.exclude.contains(r) => false,
        Some(_) => match p.status.as_ref().filter(|s| !s.regions.is_empty()) {
            Some(s) => s.regions.iter().any(|x| &x.region == r),
            None => true,
        },
    }
}

/// Ownership as the controller judges it, once the policy's own account is resolved.
pub struct StoreOwnership<'a> {
    pub me: &'a BedrockLoggingPolicy,
    pub all: &'a [Arc<BedrockLoggingPolicy>],
    pub operator_account: Option<&'a str>,
    /// Whether an account is a member of an organization policy, as last discovered (None:
    /// not listed yet).
    pub members: &'a (dyn Fn(&str, &str) -> Option<bool> + Sync),
}

impl crate::engine::Ownership for StoreOwnership<'_> {
    fn owners(&self, account: &str, regions: &[String]) -> BTreeMap<String, String> {
        conflicts_with_members(
            self.me,
            account,
            regions,
            self.all,
            self.operator_account,
            self.members,
        )
    }
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

    const ACCT: &str = "111122223333";

    fn arcs(v: Vec<BedrockLoggingPolicy>) -> Vec<Arc<BedrockLoggingPolicy>> {
        v.into_iter().map(Arc::new).collect()
    }

    /// Defect seen on a real API server: the owner has `status.accountId`, the newcomer has no
    /// status yet; both govern the same account (default credentials, or a role ARN in it).
    #[test]
    fn a_newcomer_without_status_conflicts_on_its_first_pass() {
        let mut owner = policy("owner", 100, &["us-east-1"]);
        owner.status = Some(crate::api::BedrockLoggingPolicyStatus {
            account_id: Some(ACCT.into()),
            ..Default::default()
        });
        let newcomer = policy("newcomer", 200, &["us-east-1"]);
        let all = arcs(vec![owner.clone(), newcomer.clone()]);
        // Same account through the operator's default credentials.
        assert_eq!(
            conflicts_for(&newcomer, ACCT, &newcomer.spec.regions, &all, Some(ACCT))["us-east-1"],
            "owner"
        );
        // The newcomer reaches the same account through a role ARN.
        let mut via_role = newcomer.clone();
        via_role.spec.account = Some(crate::api::AccountSpec {
            role_arn: Some(format!("arn:aws:iam::{ACCT}:role/blo")),
            ..Default::default()
        });
        let all = arcs(vec![owner.clone(), via_role.clone()]);
        assert_eq!(
            conflicts_for(&via_role, ACCT, &via_role.spec.regions, &all, Some(ACCT))["us-east-1"],
            "owner"
        );
        // The owner reaches it through a role ARN, the newcomer through default credentials.
        let mut owner_role = owner.clone();
        owner_role.spec.account = via_role.spec.account.clone();
        let all = arcs(vec![owner_role, newcomer.clone()]);
        assert_eq!(
            conflicts_for(&newcomer, ACCT, &newcomer.spec.regions, &all, Some(ACCT))["us-east-1"],
            "owner"
        );
        // The operator's own account is not resolved yet: the owner may be anywhere, so the
        // newcomer does not write there.
        let all = arcs(vec![owner.clone(), newcomer.clone()]);
        assert_eq!(
            conflicts_for(&newcomer, ACCT, &newcomer.spec.regions, &all, None)["us-east-1"],
            "owner"
        );
        // The owner is known to be in another account: no conflict.
        assert!(
            conflicts_for(
                &newcomer,
                ACCT,
                &newcomer.spec.regions,
                &all,
                Some("999988887777")
            )
            .is_empty()
        );
    }

    #[test]
    fn older_policy_owns_shared_regions() {
        let old = policy("old", 100, &["us-east-1", "eu-west-1"]);
        let new = policy("new", 200, &["us-east-1", "us-west-2"]);
        let all = arcs(vec![old.clone(), new.clone()]);
        assert!(conflicts_for(&old, ACCT, &old.spec.regions, &all, Some(ACCT)).is_empty());
        let c = conflicts_for(&new, ACCT, &new.spec.regions, &all, Some(ACCT));
        assert_eq!(c.len(), 1);
        assert_eq!(c["us-east-1"], "old");
    }

    #[test]
    fn same_age_breaks_ties_by_name_and_other_accounts_do_not_conflict() {
        let a = policy("a", 100, &["us-east-1"]);
        let b = policy("b", 100, &["us-east-1"]);
        assert!(
            conflicts_for(
                &a,
                ACCT,
                &a.spec.regions,
                &arcs(vec![a.clone(), b.clone()]),
                Some(ACCT)
            )
            .is_empty()
        );
        assert_eq!(
            conflicts_for(
                &b,
                ACCT,
                &b.spec.regions,
                &arcs(vec![a.clone(), b.clone()]),
                Some(ACCT)
            )["us-east-1"],
            "a"
        );
        let mut other = policy("c", 50, &["us-east-1"]);
        other.spec.account = Some(crate::api::AccountSpec {
            role_arn: Some("arn:aws:iam::210987654321:role/x".into()),
            ..Default::default()
        });
        assert!(
            conflicts_for(
                &b,
                ACCT,
                &b.spec.regions,
                &arcs(vec![a.clone(), b.clone(), other]),
                Some(ACCT)
            )
            .get("us-east-1")
            .is_some_and(|o| o == "a")
        );
    }
}
