//! Organization policies (`spec.accounts`): the same engine once per member account, reached by
//! assuming `roleName` in it; accounts run in parallel under a bound, one account's failure never
//! blocks another. Then a bounded summary for the status (SPEC §4).

use std::collections::BTreeMap;

use futures::StreamExt;
use serde::Serialize;

use super::{EngineError, EngineOptions, PolicyInput, PolicyReport, run_in_account};
use crate::api::{AccountSpec, BedrockLoggingPolicySpec, RegionState};
use crate::cloud::CloudFactory;
use crate::policy_doc::partition;

/// At most this many accounts in `status.nonCompliantAccounts` (worst first).
pub const MAX_LISTED_ACCOUNTS: usize = 50;
/// At most this many failing regions named per listed account.
pub const MAX_LISTED_REGIONS: usize = 16;
/// Message length per listed account (keeps the status under 64 KiB for 1,000 accounts).
pub const MAX_ACCOUNT_MESSAGE: usize = 160;

/// The spec as it applies to one member: its role, ExternalId and the account pinned (STS must
/// report that account, or nothing is written).
pub fn member_spec(spec: &BedrockLoggingPolicySpec, account: &str) -> BedrockLoggingPolicySpec {
    let mut s = spec.clone();
    if let Some(a) = &spec.accounts {
        // allRegions lists no region: the partition of the operator's own region.
        let home = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|_| "us-east-1".into());
        let region = spec.regions.first().map(String::as_str).unwrap_or(&home);
        s.account = Some(AccountSpec {
            role_arn: Some(format!(
                "arn:{}:iam::{account}:role/{}",
                partition(region),
                a.role_name
            )),
            external_id: a.external_id.clone(),
            id: Some(account.to_string()),
        });
    }
    s
}

/// Run the policy in each member account (`account_concurrency` at a time), in account order.
pub async fn run_members(
    factory: &dyn CloudFactory,
    input: &PolicyInput<'_>,
    members: &[String],
    previous: &BTreeMap<String, BTreeMap<String, RegionState>>,
    opts: &EngineOptions,
    account_concurrency: usize,
) -> Vec<PolicyReport> {
    let mut out: Vec<PolicyReport> =
        member_runs(factory, input, members, previous, opts, account_concurrency)
            .collect()
            .await;
    out.sort_by(|a, b| a.account_id.cmp(&b.account_id));
    out
}

/// [`run_members`] as the accounts finish (in no order), for a caller that reports progress.
pub fn member_runs<'a>(
    factory: &'a dyn CloudFactory,
    input: &'a PolicyInput<'a>,
    members: &'a [String],
    previous: &'a BTreeMap<String, BTreeMap<String, RegionState>>,
    opts: &'a EngineOptions,
    account_concurrency: usize,
) -> impl futures::Stream<Item = PolicyReport> + 'a {
    static EMPTY: BTreeMap<String, RegionState> = BTreeMap::new();
    futures::stream::iter(members.iter().cloned())
        .map(move |account| {
            let spec = member_spec(input.spec, &account);
            let previous = previous.get(&account).unwrap_or(&EMPTY);
            run_member(factory, input, account, spec, previous, opts)
        })
        .buffer_unordered(account_concurrency.max(1))
}

async fn run_member(
    factory: &dyn CloudFactory,
    input: &PolicyInput<'_>,
    account: String,
    spec: BedrockLoggingPolicySpec,
    previous: &BTreeMap<String, RegionState>,
    opts: &EngineOptions,
) -> PolicyReport {
    let member = PolicyInput {
        name: input.name,
        spec: &spec,
        conflicts: input.conflicts,
        previous,
        permission_grace: input.permission_grace,
    };
    let mut r = run_in_account(factory, &member, opts).await;
    // The pin is the member's id: a mismatch means the role lives elsewhere.
    if let Some(EngineError::AccountMismatch { expected, actual }) = &r.global_error {
        let role = spec.account.as_ref().and_then(|a| a.role_arn.clone());
        let fixed = EngineError::spec(
            "spec.accounts.roleName",
            format!(
                "{} in member account {expected} acts in account {actual}: nothing was written; the role must belong to the member account",
                role.unwrap_or_default()
            ),
        );
        for region in &mut r.regions {
            region.error = Some(fixed.clone());
        }
        r.global_error = Some(fixed);
    }
    r.account_id.get_or_insert(account);
    r
}

/// One non-compliant account in the bounded status list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountProblem {
    pub account_id: String,
    /// Its failing regions (at most [`MAX_LISTED_REGIONS`]).
    pub regions: Vec<String>,
    pub reason: String,
    pub message: String,
}

/// Counts over every member, and the worst accounts.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct OrgSummary {
    pub accounts_total: u32,
    pub accounts_compliant: u32,
    pub regions_total: u32,
    pub regions_compliant: u32,
    pub worst: Vec<AccountProblem>,
    /// Accounts of this replica's share still being reconciled (a progress report in the middle
    /// of a pass): counted in the total, not as compliant.
    pub pending: u32,
}

fn problem(r: &PolicyReport) -> Option<(usize, AccountProblem)> {
    if r.all_compliant() {
        return None;
    }
    let failing: Vec<&super::RegionReport> = r
        .regions
        .iter()
        .filter(|x| x.state != RegionState::Compliant)
        .collect();
    let reason = r
        .global_error
        .as_ref()
        .or_else(|| failing.iter().find_map(|x| x.error.as_ref()))
        .map(|e| e.stalled_reason().unwrap_or("Error").to_string())
        .unwrap_or_else(|| {
            failing
                .first()
                .map(|x| x.state.to_string())
                .unwrap_or_else(|| "NonCompliant".into())
        });
    let message = r
        .global_error
        .as_ref()
        .map(|e| e.to_string())
        .or_else(|| {
            failing
                .first()
                .map(|x| format!("{}: {}", x.region, x.message()))
        })
        .unwrap_or_default();
    // Worst first: an account-level failure, then the most failing regions.
    let weight = if r.global_error.is_some() {
        usize::MAX
    } else {
        failing.len()
    };
    Some((
        weight,
        AccountProblem {
            account_id: r.account_id.clone().unwrap_or_default(),
            regions: failing
                .iter()
                .take(MAX_LISTED_REGIONS)
                .map(|x| x.region.clone())
                .collect(),
            reason,
            message: crate::truncate(&message, MAX_ACCOUNT_MESSAGE),
        },
    ))
}

/// Pure: the summary of every member's report.
pub fn summarize(members: &[PolicyReport]) -> OrgSummary {
    let mut worst: Vec<(usize, AccountProblem)> = members.iter().filter_map(problem).collect();
    worst.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| a.1.account_id.cmp(&b.1.account_id))
    });
    OrgSummary {
        accounts_total: members.len() as u32,
        accounts_compliant: members.iter().filter(|r| r.all_compliant()).count() as u32,
        regions_total: members.iter().map(|r| r.regions.len() as u32).sum(),
        regions_compliant: members.iter().map(|r| r.compliant_regions() as u32).sum(),
        worst: worst
            .into_iter()
            .take(MAX_LISTED_ACCOUNTS)
            .map(|(_, p)| p)
            .collect(),
        pending: 0,
    }
}

/// Which replica reconciles `account` (a stable FNV-1a hash of the id).
pub fn shard_of(account: &str, shard_count: u32) -> u32 {
    crate::policy_doc::fnv1a32(account) % shard_count.max(1)
}
