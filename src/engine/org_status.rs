//! The bounded status of an organization policy (SPEC §4): counts over every member account,
//! the worst accounts (at most 50), and with sharding one entry per replica; conditions over the
//! whole organization. Pure: the clock is passed in.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::organization::{MAX_LISTED_ACCOUNTS, OrgSummary};
use super::status::{Verdict, conditions, verdict};
use super::{EngineError, PolicyReport};
use crate::api::{AccountCounts, BedrockLoggingPolicyStatus, NonCompliantAccount, ShardStatus};

/// This replica's share: `(index, count)`; `(0, 1)` without sharding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 0, count: 1 };
}

pub struct OrgStatusInputs<'a> {
    pub summary: &'a OrgSummary,
    /// This replica's member reports (for the conditions' reasons).
    pub members: &'a [PolicyReport],
    /// Listing the organization failed (nothing was reconciled).
    pub discovery_error: Option<&'a EngineError>,
    pub shard: Shard,
    pub generation: Option<i64>,
    pub now: Timestamp,
    pub previous: Option<&'a BedrockLoggingPolicyStatus>,
}

fn listed(s: &OrgSummary, max: usize) -> Vec<NonCompliantAccount> {
    s.worst
        .iter()
        .take(max)
        .map(|p| NonCompliantAccount {
            account_id: p.account_id.clone(),
            regions: p.regions.clone(),
            reason: p.reason.clone(),
            message: Some(p.message.clone()).filter(|m| !m.is_empty()),
        })
        .collect()
}

/// This replica's entry of `status.shards[]`.
pub fn shard_entry(i: &OrgStatusInputs<'_>) -> ShardStatus {
    ShardStatus {
        index: i.shard.index,
        count: i.shard.count,
        observed_generation: i.generation,
        accounts: AccountCounts {
            total: i.summary.accounts_total + i.summary.pending,
            compliant: i.summary.accounts_compliant,
        },
        compliant_regions: i.summary.regions_compliant,
        total_regions: i.summary.regions_total,
        non_compliant_accounts: listed(
            i.summary,
            (MAX_LISTED_ACCOUNTS / i.shard.count.max(1) as usize).max(1),
        ),
    }
}

/// The organization's status as this replica computes it. Without sharding it is the whole
/// status; with sharding, replica 0 writes it from every replica's entry (the others write only
/// their entry, [`shard_entry`]).
pub fn build_org_status(i: &OrgStatusInputs<'_>) -> BedrockLoggingPolicyStatus {
    let mine = shard_entry(i);
    let mut entries: Vec<ShardStatus> = vec![mine.clone()];
    if i.shard.count > 1 {
        entries.extend(
            i.previous
                .map(|p| p.shards.as_slice())
                .unwrap_or(&[])
                .iter()
                .filter(|e| {
                    e.count == i.shard.count && e.index != i.shard.index && e.index < e.count
                })
                .cloned(),
        );
    }
    let missing: Vec<u32> = (0..i.shard.count)
        .filter(|k| !entries.iter().any(|e| e.index == *k))
        .collect();
    let total = |f: fn(&ShardStatus) -> u32| entries.iter().map(f).sum::<u32>();
    let accounts = AccountCounts {
        total: total(|e| e.accounts.total),
        compliant: total(|e| e.accounts.compliant),
    };
    let (compliant_regions, total_regions) =
        (total(|e| e.compliant_regions), total(|e| e.total_regions));
    let mut worst: Vec<NonCompliantAccount> = entries
        .iter()
        .flat_map(|e| e.non_compliant_accounts.iter().cloned())
        .collect();
    // Account-level failures (no region named) first, then the most failing regions.
    worst.sort_by_key(|a| (!a.regions.is_empty(), std::cmp::Reverse(a.regions.len())));
    worst.truncate(MAX_LISTED_ACCOUNTS);

    let v = org_verdict(i, accounts, compliant_regions, total_regions, &missing);
    let prev_conditions = i.previous.map(|p| p.conditions.as_slice()).unwrap_or(&[]);
    BedrockLoggingPolicyStatus {
        observed_generation: i.generation,
        account_id: None,
        compliant_regions,
        total_regions,
        region_summary: Some(format!("{compliant_regions}/{total_regions}")),
        conditions: conditions(&v, i.generation, &Time(i.now), prev_conditions),
        regions: vec![],
        accounts: Some(accounts),
        non_compliant_accounts: worst,
        shards: if i.shard.count > 1 {
            vec![mine]
        } else {
            vec![]
        },
    }
}

fn org_verdict(
    i: &OrgStatusInputs<'_>,
    accounts: AccountCounts,
    compliant_regions: u32,
    total_regions: u32,
    missing_shards: &[u32],
) -> Verdict {
    let summary = format!(
        "{}/{} accounts compliant, {compliant_regions}/{total_regions} regions",
        accounts.compliant, accounts.total
    );
    if let Some(e) = i.discovery_error {
        let stalled = e.stalled_reason().map(|r| (r, e.to_string()));
        return Verdict {
            ready: false,
            ready_reason: e.stalled_reason().unwrap_or("DiscoveryFailed"),
            message: format!("cannot list the organization's accounts: {e}"),
            reconciling: stalled.is_none().then(|| {
                (
                    "RetryingAfterError",
                    format!("listing the organization: {e}"),
                )
            }),
            stalled,
        };
    }
    // The per-account verdicts, as if this replica's members were one policy.
    let mut merged = Vec::new();
    for m in i.members {
        let account = m.account_id.clone().unwrap_or_default();
        let mut v = verdict(m);
        if let Some((_, msg)) = v.stalled.as_mut() {
            *msg = format!("account {account}: {msg}");
        }
        if let Some((_, msg)) = v.reconciling.as_mut() {
            *msg = format!("account {account}: {msg}");
        }
        merged.push(v);
    }
    let stalled = merged.iter().find_map(|v| v.stalled.clone());
    let pending = i.summary.pending;
    let reconciling = (pending > 0)
        .then(|| {
            (
                "Reconciling",
                format!("{summary}; {pending} account(s) not reconciled yet in this pass"),
            )
        })
        .or_else(|| merged.iter().find_map(|v| v.reconciling.clone()))
        .or_else(|| {
            (!missing_shards.is_empty()).then(|| {
                (
                    "WaitingForShards",
                    format!("{summary}; no entry yet from shard(s) {missing_shards:?}"),
                )
            })
        });
    let ready = missing_shards.is_empty()
        && pending == 0
        && accounts.total > 0
        && accounts.compliant == accounts.total
        && compliant_regions == total_regions;
    let (ready_reason, message) = if ready {
        ("Compliant", summary)
    } else if accounts.total == 0 && missing_shards.is_empty() {
        (
            "NoAccounts",
            "no member account matches spec.accounts.organization (units, exclusions)".to_string(),
        )
    } else if pending > 0 {
        ("Converging", summary)
    } else if let Some((reason, msg)) = &stalled {
        (*reason, format!("{summary}; {msg}"))
    } else if reconciling.is_some() {
        ("Converging", summary)
    } else {
        ("NonCompliant", summary)
    };
    Verdict {
        ready,
        ready_reason,
        message,
        reconciling,
        stalled,
    }
}
