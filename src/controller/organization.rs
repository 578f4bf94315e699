//! Organization policies in the controller: the member accounts (listed at most every
//! `discoveryInterval`), this replica's share of them (`--shard-index/--shard-count`), one engine
//! run per account, and the bounded status, reports, events and metrics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event as KubeEvent, EventType};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::conflicts::StoreOwnership;
use super::reconcile::{ReconcileError, apply_status, backoff, is_ready, resync};
use super::{Context, FIELD_MANAGER};
use crate::api::{BedrockLoggingPolicy, OrganizationSpec};
use crate::cloud::AccountTarget;
use crate::engine::org_status::{OrgStatusInputs, Shard, build_org_status, shard_entry};
use crate::engine::organization::{member_runs, shard_of, summarize};
use crate::engine::status::materially_equal;
use crate::engine::{EngineError, PolicyInput, PolicyReport};

/// Per member account: its region states at the last pass.
pub type MemberStates = BTreeMap<String, BTreeMap<String, crate::api::RegionState>>;

/// An organization's member accounts as last listed.
#[derive(Debug, Clone)]
pub struct Members {
    pub listed_at: Instant,
    pub accounts: Vec<String>,
}

fn discovery_interval(o: &OrganizationSpec) -> Duration {
    humantime::parse_duration(&o.discovery_interval)
        .ok()
        .filter(|d| *d >= Duration::from_secs(60))
        .unwrap_or(Duration::from_secs(600))
}

/// The member accounts: from the cache while it is fresh, else listed with the operator's own
/// credentials. Returns them and the accounts no longer listed since the last listing.
pub async fn members(
    p: &BedrockLoggingPolicy,
    ctx: &Context,
) -> Result<(Vec<String>, Vec<String>), EngineError> {
    let Some(org) = p.spec.accounts.as_ref().map(|a| &a.organization) else {
        return Ok((vec![], vec![]));
    };
    let name = p.name_any();
    let cached = ctx
        .org_members
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&name)
        .cloned();
    if let Some(m) = &cached
        && m.listed_at.elapsed() < discovery_interval(org)
    {
        return Ok((m.accounts.clone(), vec![]));
    }
    let cloud = ctx
        .factory
        .cloud_for(&AccountTarget::default(), "blo-operator")
        .await?;
    let accounts = crate::engine::discovery::discover_accounts(
        cloud.as_ref(),
        org,
        ctx.engine.org_call_interval,
    )
    .await?;
    let removed = cached
        .map(|m| {
            m.accounts
                .into_iter()
                .filter(|a| !accounts.contains(a))
                .collect()
        })
        .unwrap_or_default();
    ctx.org_members
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(
            name,
            Members {
                listed_at: Instant::now(),
                accounts: accounts.clone(),
            },
        );
    Ok((accounts, removed))
}

/// Whether `account` is a member of organization policy `policy` as last listed (None: not
/// listed yet). The list is sorted.
pub fn is_member(ctx: &Context, policy: &str, account: &str) -> Option<bool> {
    ctx.org_members
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(policy)
        .map(|m| {
            m.accounts
                .binary_search_by(|a| a.as_str().cmp(account))
                .is_ok()
        })
}

/// The members this replica reconciles.
pub fn my_share(accounts: &[String], shard: Shard) -> Vec<String> {
    accounts
        .iter()
        .filter(|a| shard_of(a, shard.count) == shard.index)
        .cloned()
        .collect()
}

/// One pass of an organization policy.
pub async fn apply_org(
    p: Arc<BedrockLoggingPolicy>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let name = p.name_any();
    let (accounts, removed) = match members(&p, &ctx).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(policy = %name, error = %e, "cannot list the organization's accounts");
            let summary = Default::default();
            write_status(
                &p,
                &OrgInputsOwned::new(&p, &ctx, summary, vec![], Some(e.clone())),
                &ctx,
            )
            .await?;
            let wait = if e.is_transient() {
                backoff(1, resync(&p))
            } else {
                resync(&p).min(Duration::from_secs(300))
            };
            return Ok(Action::requeue(wait));
        }
    };
    let mine = my_share(&accounts, ctx.shard);
    // Each replica reports the accounts of its own share that left.
    let removed = my_share(&removed, ctx.shard);
    let all = (ctx.policies)();
    let operator = super::reconcile::operator_account(&ctx).await;
    let known = |policy: &str, account: &str| is_member(&ctx, policy, account);
    let ownership = StoreOwnership {
        me: &p,
        all: &all,
        operator_account: operator.as_deref(),
        members: &known,
    };
    let no_previous = BTreeMap::new();
    let input = PolicyInput {
        name: &name,
        spec: &p.spec,
        conflicts: &ownership,
        previous: &no_previous,
        permission_grace: false,
    };
    let previous = ctx
        .org_previous
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&name)
        .cloned()
        .unwrap_or_default();
    let (reports, progressed) = run_reporting_progress(&p, &ctx, &input, &mine, &previous).await;
    ctx.org_previous
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name.clone(), member_states(&reports));
    let summary = summarize(&reports);
    let mut inputs = OrgInputsOwned::new(&p, &ctx, summary, reports, None);
    inputs.force = progressed;
    let ready = write_status(&p, &inputs, &ctx).await?;
    publish(&p, &inputs.members, &previous, &removed, &ctx).await;
    write_reports(&p, &inputs.members, &ctx).await;
    super::publish::export_member_findings(&p, &inputs.members, &ctx).await;
    record_metrics(&name, &inputs, &previous, ready, &ctx);
    let next = if inputs.members.iter().any(|r| {
        r.regions.iter().any(|x| {
            x.state == crate::api::RegionState::Converging
                || x.error.as_ref().is_some_and(|e| e.is_transient())
        })
    }) {
        backoff(1, resync(&p))
    } else {
        resync(&p)
    };
    ctx.due
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name.clone(), (p.metadata.generation, Instant::now() + next));
    remember_shards(&p, &ctx);
    Ok(Action::requeue(next))
}

/// How often the first pass of a generation writes its progress.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(30);

/// Every member of this replica's share, in account order. On the first pass of a generation
/// (no status for it yet) the status is written every [`Context::org_progress_every`] while
/// accounts remain, counting them as not yet compliant (`Reconciling`); other passes write only
/// their result, so a steady state makes no status write.
async fn run_reporting_progress(
    p: &BedrockLoggingPolicy,
    ctx: &Context,
    input: &PolicyInput<'_>,
    mine: &[String],
    previous: &MemberStates,
) -> (Vec<PolicyReport>, bool) {
    let first_of_generation = p
        .status
        .as_ref()
        .is_none_or(|s| s.observed_generation != p.metadata.generation);
    let mut runs = std::pin::pin!(member_runs(
        ctx.factory.as_ref(),
        input,
        mine,
        previous,
        &ctx.engine,
        ctx.engine.account_concurrency,
    ));
    let mut done = Vec::with_capacity(mine.len());
    let mut last = Instant::now();
    let mut progressed = false;
    while let Some(r) = runs.next().await {
        done.push(r);
        let pending = mine.len() - done.len();
        if first_of_generation && pending > 0 && last.elapsed() >= ctx.org_progress_every {
            let mut summary = summarize(&done);
            summary.pending = pending as u32;
            let progress = OrgInputsOwned::new(p, ctx, summary, vec![], None);
            match write_status(p, &progress, ctx).await {
                Ok(_) => progressed = true,
                Err(e) => {
                    tracing::debug!(policy = %input.name, error = %e, "cannot write the progress")
                }
            }
            last = Instant::now();
        }
    }
    done.sort_by(|a, b| a.account_id.cmp(&b.account_id));
    (done, progressed)
}

/// Each member's region states, for the next pass.
fn member_states(reports: &[PolicyReport]) -> MemberStates {
    reports
        .iter()
        .filter_map(|r| {
            let account = r.account_id.clone()?;
            let states = r
                .regions
                .iter()
                .map(|x| (x.region.clone(), x.state))
                .collect();
            Some((account, states))
        })
        .collect()
}

/// The regions a pass repaired that were compliant at the member's last pass.
fn drifted<'a>(
    m: &'a PolicyReport,
    previous: &'a MemberStates,
) -> impl Iterator<Item = &'a crate::engine::RegionReport> {
    let before = m.account_id.as_ref().and_then(|a| previous.get(a));
    m.regions.iter().filter(move |r| {
        !r.applied.is_empty()
            && before.and_then(|b| b.get(&r.region)) == Some(&crate::api::RegionState::Compliant)
    })
}

/// The same families as a single-account pass: per-account region and per-check gauges, the
/// policy's region totals (this replica's share), drift corrections and one reconcile result.
fn record_metrics(
    name: &str,
    inputs: &OrgInputsOwned,
    previous: &MemberStates,
    ready: bool,
    ctx: &Context,
) {
    ctx.metrics.record_members(name, &inputs.members, ready);
    let drift: usize = inputs
        .members
        .iter()
        .map(|r| drifted(r, previous).count())
        .sum();
    ctx.metrics.record_pass(
        name,
        &inputs.members,
        (
            i64::from(inputs.summary.regions_compliant),
            i64::from(inputs.summary.regions_total),
        ),
        drift as u64,
    );
}

/// A fingerprint of the other replicas' entries of `status.shards[]`.
fn other_shards(p: &BedrockLoggingPolicy, shard: Shard) -> u32 {
    let others: Vec<&crate::api::ShardStatus> = p
        .status
        .as_ref()
        .map(|s| s.shards.iter().filter(|e| e.index != shard.index).collect())
        .unwrap_or_default();
    crate::policy_doc::fnv1a32(&serde_json::to_string(&others).unwrap_or_default())
}

fn remember_shards(p: &BedrockLoggingPolicy, ctx: &Context) {
    if ctx.shard.count > 1 && ctx.shard.index == 0 {
        ctx.shards_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(p.name_any(), other_shards(p, ctx.shard));
    }
}

/// Replica 0 computes the totals from every entry: another replica's new entry is a reason
/// for a pass before the resync (its own share is steady, so it only reads).
pub fn shards_changed(p: &BedrockLoggingPolicy, ctx: &Context) -> bool {
    ctx.shard.count > 1
        && ctx.shard.index == 0
        && ctx
            .shards_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&p.name_any())
            .is_some_and(|seen| *seen != other_shards(p, ctx.shard))
}

/// What the status is built from (owned, so the pass can publish the same reports).
pub struct OrgInputsOwned {
    pub summary: crate::engine::organization::OrgSummary,
    pub members: Vec<PolicyReport>,
    pub discovery_error: Option<EngineError>,
    pub shard: Shard,
    pub generation: Option<i64>,
    /// Write even when the result equals the cached status (a progress report was written
    /// since that status was read).
    pub force: bool,
}

impl OrgInputsOwned {
    fn new(
        p: &BedrockLoggingPolicy,
        ctx: &Context,
        summary: crate::engine::organization::OrgSummary,
        members: Vec<PolicyReport>,
        discovery_error: Option<EngineError>,
    ) -> Self {
        OrgInputsOwned {
            summary,
            members,
            discovery_error,
            shard: ctx.shard,
            generation: p.metadata.generation,
            force: false,
        }
    }
}

/// Server-side apply: the whole status (one replica, or replica 0 with the totals of every
/// replica's entry), or only this replica's entry of `status.shards[]` under its own field
/// manager. Nothing is written when nothing material changed. Returns Ready.
async fn write_status(
    p: &BedrockLoggingPolicy,
    i: &OrgInputsOwned,
    ctx: &Context,
) -> Result<bool, ReconcileError> {
    let api: Api<BedrockLoggingPolicy> = Api::all(ctx.client.clone());
    // Replica 0 sums every replica's entry: read them as they are now, not as they were when
    // this (possibly long) pass started.
    let fresh = if i.shard.count > 1 && i.shard.index == 0 {
        match api.get_status(&p.name_any()).await {
            Ok(latest) => latest.status,
            Err(e) => {
                tracing::debug!(error = %e, "cannot re-read the status; using the cached one");
                p.status.clone()
            }
        }
    } else {
        p.status.clone()
    };
    let inputs = OrgStatusInputs {
        summary: &i.summary,
        members: &i.members,
        discovery_error: i.discovery_error.as_ref(),
        shard: i.shard,
        generation: i.generation,
        now: Timestamp::now(),
        previous: fresh.as_ref(),
    };
    if i.shard.count > 1 && i.shard.index != 0 {
        let entry = shard_entry(&inputs);
        let unchanged = p
            .status
            .as_ref()
            .and_then(|s| s.shards.iter().find(|e| e.index == entry.index))
            == Some(&entry);
        if i.force || !unchanged {
            let manager = format!("{FIELD_MANAGER}-shard-{}", i.shard.index);
            apply_status(ctx, &p.name_any(), json!({"shards": [entry]}), &manager).await?;
        }
        return Ok(false);
    }
    let status = build_org_status(&inputs);
    if i.force
        || fresh
            .as_ref()
            .is_none_or(|old| !materially_equal(&without_other_shards(old, i.shard), &status))
    {
        apply_status(ctx, &p.name_any(), json!(status), FIELD_MANAGER).await?;
    }
    Ok(is_ready(&status))
}

/// The status as replica 0 owns it (the other replicas' entries are theirs).
fn without_other_shards(
    s: &crate::api::BedrockLoggingPolicyStatus,
    shard: Shard,
) -> crate::api::BedrockLoggingPolicyStatus {
    let mut s = s.clone();
    s.shards
        .retain(|e| e.index == shard.index && e.count == shard.count);
    s
}

/// Events: per member account that changed something, one `DriftCorrected` for the regions that
/// were compliant at its last pass and one `Changed` for the rest; one per account that left the
/// organization (reported; nothing is done to it).
async fn publish(
    p: &BedrockLoggingPolicy,
    members: &[PolicyReport],
    previous: &MemberStates,
    removed: &[String],
    ctx: &Context,
) {
    let Some(recorder) = &ctx.recorder else {
        return;
    };
    let reference = super::publish::regarding(p);
    let mut events = Vec::new();
    for m in members {
        let account = m.account_id.clone().unwrap_or_default();
        let drift: Vec<&str> = drifted(m, previous).map(|r| r.region.as_str()).collect();
        let mut changed = m.global_applied.clone();
        let mut corrected = Vec::new();
        for r in &m.regions {
            let into = if drift.contains(&r.region.as_str()) {
                &mut corrected
            } else {
                &mut changed
            };
            into.extend(r.applied.iter().map(|c| format!("{}: {c}", r.region)));
        }
        for (reason, changes) in [("DriftCorrected", corrected), ("Changed", changed)] {
            if !changes.is_empty() {
                events.push((
                    EventType::Normal,
                    reason,
                    format!("Converge/{account}"),
                    format!("account {account}: {}", changes.join("; ")),
                ));
            }
        }
    }
    for a in removed {
        events.push((
            EventType::Warning,
            "AccountRemoved",
            format!("Discover/{a}"),
            format!("account {a} is no longer listed under spec.accounts.organization: it is no longer governed; its AWS resources were left as they are"),
        ));
    }
    for (type_, reason, action, note) in events {
        let ev = KubeEvent {
            type_,
            reason: reason.to_string(),
            note: Some(crate::truncate(&note, 1000)),
            action: format!("{action}/{:08x}", crate::policy_doc::fnv1a32(&note)),
            secondary: None,
        };
        if let Err(err) = recorder.publish(&ev, &reference).await {
            tracing::warn!(error = %err, "cannot publish event");
        }
    }
}

/// One compliance report per governed account (`<policy>-<account>`), written when it changed.
async fn write_reports(p: &BedrockLoggingPolicy, members: &[PolicyReport], ctx: &Context) {
    let Some(kind) = ctx.reports else {
        return;
    };
    let name = p.name_any();
    for m in members {
        let account = m.account_id.clone().unwrap_or_default();
        let mut obj = super::reports::build(kind, p, m);
        obj["metadata"]["name"] = json!(format!("{name}-{account}"));
        obj["metadata"]["labels"]["bedrocklogging.io/account"] = json!(account);
        let key = format!("{name}/{account}");
        let fingerprint = u64::from(crate::policy_doc::fnv1a32(&obj.to_string()));
        let unchanged = ctx
            .reports_written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            == Some(&fingerprint);
        if unchanged {
            continue;
        }
        match super::reports::write(&ctx.client, kind, &obj).await {
            Ok(()) => {
                ctx.reports_written
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, fingerprint);
            }
            Err(e) => {
                tracing::warn!(policy = %name, account = %account, error = %e, "cannot write the compliance report")
            }
        }
    }
}

/// Deleting an organization policy: with `deletionPolicy: Disable` (Enforce), logging is turned
/// off in every member account (all of them, whichever replica reconciled it) where it is still
/// this policy's. Audit and Retain make no AWS call. One report: the members' changes and the
/// first error.
pub async fn delete_org(p: &BedrockLoggingPolicy, ctx: &Context) -> PolicyReport {
    let name = p.name_any();
    let mut out = PolicyReport::empty(&name, p.spec.mode);
    if !crate::engine::delete::deletion_writes(&p.spec) {
        return out;
    }
    let accounts = match members(p, ctx).await {
        Ok((a, _)) => a,
        Err(e) => {
            out.global_error = Some(e);
            return out;
        }
    };
    let no_conflicts = BTreeMap::<String, String>::new();
    let previous = BTreeMap::new();
    for account in accounts {
        let spec = crate::engine::organization::member_spec(&p.spec, &account);
        let input = PolicyInput {
            name: &name,
            spec: &spec,
            conflicts: &no_conflicts,
            previous: &previous,
            permission_grace: false,
        };
        let r = crate::engine::run_deletion(ctx.factory.as_ref(), &input, &ctx.engine).await;
        out.global_applied.extend(r.regions.iter().flat_map(|x| {
            x.applied
                .iter()
                .map(|c| format!("account {account} {}: {c}", x.region))
        }));
        if out.global_error.is_none() {
            out.global_error = r.global_error;
        }
    }
    out
}
