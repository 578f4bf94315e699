//! The reconcile loop: a thin dispatcher over the engine (apply) and the deletion cleanup.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::{Api, ResourceExt};
use rand::Rng;
use serde_json::json;

use super::conflicts::StoreOwnership;
use super::metrics::{ResultLabels, TamperLabels};
pub use super::permission_clock::PermissionClock;
use super::publish::{export_findings, publish_events, publish_tamper, write_report};
use super::tamper::Pending;
use super::{Context, FIELD_MANAGER, FINALIZER};
use crate::api::{BedrockLoggingPolicy, RegionState};
use crate::cloud::AccountTarget;
use crate::engine::status::{build_status, materially_equal};
use crate::engine::{EngineError, PolicyInput, PolicyReport, run_deletion, run_in_account};

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("cleanup on deletion: {0}")]
    Cleanup(EngineError),
    #[error("{0}")]
    Finalizer(Box<kube::runtime::finalizer::Error<ReconcileError>>),
}

impl ReconcileError {
    pub fn label(&self) -> &'static str {
        match self {
            ReconcileError::Kube(_) => "kube_error",
            ReconcileError::Cleanup(_) => "cleanup_error",
            ReconcileError::Finalizer(_) => "finalizer_error",
        }
    }
}

/// Parse `resyncInterval` (validated by the schema; fall back to 5m).
pub fn resync(p: &BedrockLoggingPolicy) -> Duration {
    humantime::parse_duration(&p.spec.resync_interval)
        .ok()
        .filter(|d| *d >= Duration::from_secs(10))
        .unwrap_or(Duration::from_secs(300))
}

/// Jittered exponential backoff: 5s, 10s, 20s ... capped at `cap`, ±20%.
pub fn backoff(attempt: u32, cap: Duration) -> Duration {
    let base = Duration::from_secs(5).saturating_mul(1u32 << attempt.min(10));
    let d = base.min(cap).max(Duration::from_secs(1));
    let jitter = rand::rng().random_range(0.8..1.2);
    d.mul_f64(jitter)
}

fn attempt(ctx: &Context, name: &str, failed: bool) -> u32 {
    let mut map = ctx.attempts.lock().unwrap_or_else(|p| p.into_inner());
    if failed {
        let n = map.entry(name.to_string()).or_insert(0);
        *n += 1;
        *n - 1
    } else {
        map.remove(name);
        0
    }
}

pub async fn reconcile(
    policy: Arc<BedrockLoggingPolicy>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let started = Instant::now();
    // With --shard-count > 1, replica 0 owns the finalizer, deletion and single-account
    // policies; the others only reconcile their share of organization policies' accounts.
    if ctx.shard.index != 0 {
        let has_finalizer = policy.finalizers().iter().any(|f| f == FINALIZER);
        return Ok(
            if policy.metadata.deletion_timestamp.is_some() || policy.spec.accounts.is_none() {
                Action::await_change()
            } else if !has_finalizer {
                Action::requeue(Duration::from_secs(5))
            } else {
                apply(policy, ctx).await?
            },
        );
    }
    let api: Api<BedrockLoggingPolicy> = Api::all(ctx.client.clone());
    let res = finalizer(&api, FINALIZER, policy, |event| async {
        match event {
            Finalizer::Apply(p) => apply(p, ctx.clone()).await,
            Finalizer::Cleanup(p) => cleanup(p, ctx.clone()).await,
        }
    })
    .await
    .map_err(|e| ReconcileError::Finalizer(Box::new(e)));
    ctx.metrics
        .reconcile_duration
        .observe(started.elapsed().as_secs_f64());
    res
}

pub fn error_policy(
    policy: Arc<BedrockLoggingPolicy>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> Action {
    let name = policy.name_any();
    tracing::warn!(policy = %name, %error, "reconcile failed");
    ctx.metrics
        .reconciles
        .get_or_create(&ResultLabels {
            result: error.label(),
        })
        .inc();
    let n = attempt(&ctx, &name, true);
    Action::requeue(backoff(n, Duration::from_secs(300)))
}

fn previous_states(p: &BedrockLoggingPolicy) -> BTreeMap<String, RegionState> {
    p.status
        .as_ref()
        .map(|s| {
            s.regions
                .iter()
                .map(|r| (r.region.clone(), r.state))
                .collect()
        })
        .unwrap_or_default()
}

/// Every policy the controller knows (for ownership of account+region pairs).
fn all_policies(ctx: &Context) -> Vec<Arc<BedrockLoggingPolicy>> {
    (ctx.policies)()
}

/// The operator's own account (the account of every policy without a role), resolved once.
pub(super) async fn operator_account(ctx: &Context) -> Option<String> {
    ctx.operator_account
        .get_or_try_init(|| async {
            let cloud = ctx
                .factory
                .cloud_for(&AccountTarget::default(), "blo-operator")
                .await?;
            cloud.account_id().await
        })
        .await
        .ok()
        .cloned()
}

async fn run_engine(
    p: &BedrockLoggingPolicy,
    previous: &BTreeMap<String, RegionState>,
    ctx: &Context,
    deleting: bool,
) -> PolicyReport {
    let all = all_policies(ctx);
    // A deletion that cannot write (Audit, Retain) makes no AWS call, not even STS.
    let operator = if deleting && !crate::engine::delete::deletion_writes(&p.spec) {
        None
    } else {
        operator_account(ctx).await
    };
    let known = |policy: &str, account: &str| super::organization::is_member(ctx, policy, account);
    let ownership = StoreOwnership {
        me: p,
        all: &all,
        operator_account: operator.as_deref(),
        members: &known,
    };
    let name = p.name_any();
    let now = Instant::now();
    let grace = ctx
        .permission_clock
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&name)
        .copied()
        .unwrap_or_default()
        .grace(now);
    let input = PolicyInput {
        name: &name,
        spec: &p.spec,
        conflicts: &ownership,
        previous,
        permission_grace: grace,
    };
    if deleting {
        return run_deletion(ctx.factory.as_ref(), &input, &ctx.engine).await;
    }
    let report = run_in_account(ctx.factory.as_ref(), &input, &ctx.engine).await;
    ctx.permission_clock
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(name)
        .or_default()
        .update(&report, now);
    report
}

/// One pass of a live policy: outcome → status → events, report, export → metrics → next.
async fn apply(p: Arc<BedrockLoggingPolicy>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    if p.spec.accounts.is_some() {
        if let Some(wait) = not_due_yet(&p, &ctx)
            && !super::organization::shards_changed(&p, &ctx)
        {
            return Ok(Action::requeue(wait));
        }
        return super::organization::apply_org(p, ctx).await;
    }
    let tampered = ctx.tamper.take(&p.name_any());
    if tampered.is_empty()
        && let Some(wait) = not_due_yet(&p, &ctx)
    {
        return Ok(Action::requeue(wait));
    }
    let previous = previous_states(&p);
    let mut report = run_engine(&p, &previous, &ctx, false).await;
    note_tamper(&mut report, &tampered);
    let ready = write_status(&p, &report, &ctx).await?;
    publish_events(&p, &report, &ctx).await;
    publish_tamper(&p, &report, &tampered, &ctx).await;
    write_report(&p, &report, &ctx).await;
    export_findings(&p, &report, &ctx).await;
    record_metrics(&p, &report, &previous, ready, &ctx);
    listen_for_tamper(&p, &report, &tampered, &ctx).await;
    Ok(Action::requeue(next_pass(&p, &report, &ctx)))
}

/// The latest tamper event of each region goes to `status.regions[].lastTamper`.
fn note_tamper(report: &mut PolicyReport, tampered: &[Pending]) {
    for r in &mut report.regions {
        if let Some(latest) = tampered
            .iter()
            .filter(|t| t.region == r.region)
            .max_by(|a, b| a.record.time.cmp(&b.record.time))
        {
            r.last_tamper = Some(latest.record.clone());
        }
    }
}

/// Poll the queues this pass found wired, then delete the messages whose pass this was.
async fn listen_for_tamper(
    p: &BedrockLoggingPolicy,
    report: &PolicyReport,
    tampered: &[Pending],
    ctx: &Context,
) {
    let name = p.name_any();
    let unused = if report.regions.iter().any(|r| r.tamper_watch.is_some()) {
        let target = crate::engine::account_target(&p.spec);
        match ctx.factory.cloud_for(&target, &format!("blo-{name}")).await {
            Ok(cloud) => ctx.tamper.sync(&name, cloud, report),
            Err(e) => {
                tracing::warn!(policy = %name, error = %e, "cannot listen for tamper events");
                vec![]
            }
        }
    } else if report.global_error.is_none() {
        ctx.tamper.forget_queues(&name)
    } else {
        vec![]
    };
    super::publish::publish_unused_queues(p, &unused, ctx).await;
    for t in tampered {
        ctx.metrics
            .tamper_events
            .get_or_create(&TamperLabels {
                policy: name.clone(),
                region: t.region.clone(),
                event: t.label,
            })
            .inc();
    }
    ctx.tamper.ack(tampered).await;
}

/// A watch event before the next pass is due, at the same generation (our own status write, a
/// label change): nothing to re-read yet. Returns how long until the pass is due.
fn not_due_yet(p: &BedrockLoggingPolicy, ctx: &Context) -> Option<Duration> {
    let now = Instant::now();
    let due = ctx
        .due
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&p.name_any())
        .copied();
    match due {
        Some((generation, at)) if generation == p.metadata.generation && now < at => Some(at - now),
        _ => None,
    }
}

/// Server-side apply of the status, only when it changed materially. Returns Ready.
async fn write_status(
    p: &BedrockLoggingPolicy,
    report: &PolicyReport,
    ctx: &Context,
) -> Result<bool, ReconcileError> {
    let status = build_status(
        report,
        p.metadata.generation,
        Timestamp::now(),
        p.status.as_ref(),
    );
    if p.status
        .as_ref()
        .is_none_or(|old| !materially_equal(old, &status))
    {
        apply_status(ctx, &p.name_any(), json!(status), FIELD_MANAGER).await?;
    }
    Ok(is_ready(&status))
}

/// Server-side apply of (part of) a policy's status under `manager`.
pub(super) async fn apply_status(
    ctx: &Context,
    name: &str,
    status: serde_json::Value,
    manager: &str,
) -> Result<(), kube::Error> {
    let api: Api<BedrockLoggingPolicy> = Api::all(ctx.client.clone());
    let patch = json!({
        "apiVersion": "bedrocklogging.io/v1alpha1",
        "kind": "BedrockLoggingPolicy",
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(manager).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

pub(super) fn is_ready(status: &crate::api::BedrockLoggingPolicyStatus) -> bool {
    status
        .conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

fn record_metrics(
    p: &BedrockLoggingPolicy,
    report: &PolicyReport,
    previous: &BTreeMap<String, RegionState>,
    ready: bool,
    ctx: &Context,
) {
    ctx.metrics.record_compliance(report, ready);
    let drift = report
        .regions
        .iter()
        .filter(|r| {
            !r.applied.is_empty() && previous.get(&r.region) == Some(&RegionState::Compliant)
        })
        .count();
    ctx.metrics.record_pass(
        &p.name_any(),
        std::slice::from_ref(report),
        (
            report.compliant_regions() as i64,
            report.regions.len() as i64,
        ),
        drift as u64,
    );
}

/// When to look again: backoff while converging or after a transient error; a minute while in
/// conflict (the owner may go away); else the resync interval.
fn next_pass(p: &BedrockLoggingPolicy, report: &PolicyReport, ctx: &Context) -> Duration {
    let name = p.name_any();
    let transient = report
        .global_error
        .iter()
        .chain(report.regions.iter().filter_map(|r| r.error.as_ref()))
        .any(|e| e.is_transient());
    let state = |s: RegionState| report.regions.iter().any(|r| r.state == s);
    let resync = resync(p);
    let next = if transient || state(RegionState::Converging) {
        backoff(attempt(ctx, &name, true), resync)
    } else {
        attempt(ctx, &name, false);
        if state(RegionState::Conflict) {
            resync.min(Duration::from_secs(60))
        } else {
            resync
        }
    };
    ctx.due
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name, (p.metadata.generation, Instant::now() + next));
    next
}

/// Deletion, through the engine: with `deletionPolicy: Disable` in Enforce mode, logging is
/// turned off where the configuration is still this policy's (planned, executed, evented);
/// Audit and Retain make no AWS call. Buckets, log groups and keys are never deleted.
async fn cleanup(
    p: Arc<BedrockLoggingPolicy>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let name = p.name_any();
    let report = if p.spec.accounts.is_some() {
        super::organization::delete_org(&p, &ctx).await
    } else {
        run_engine(&p, &previous_states(&p), &ctx, true).await
    };
    publish_events(&p, &report, &ctx).await;
    match report.global_error {
        // Transient (AWS unreachable, throttled): keep the finalizer and retry with backoff.
        Some(e) if e.stalled_reason().is_none() => return Err(ReconcileError::Cleanup(e)),
        // Terminal (the role can no longer be assumed, access denied): retrying cannot help and
        // would block the deletion forever. The Warning event above says what was left on.
        Some(e) => {
            tracing::warn!(policy = %name, error = %e, "deletion could not disable logging; releasing the finalizer (AWS left as is)");
        }
        None => {}
    }
    tracing::info!(policy = %name, changes = ?report.global_applied.iter().chain(report.regions.iter().flat_map(|r| r.applied.iter())).collect::<Vec<_>>(), "policy deleted");
    ctx.metrics.forget_policy(&name);
    ctx.tamper.forget(&name);
    ctx.due
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&name);
    ctx.permission_clock
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&name);
    ctx.reports_written
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|k, _| k != &name && !k.starts_with(&format!("{name}/")));
    ctx.org_members
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&name);
    ctx.org_previous
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&name);
    ctx.exported
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|k, _| k != &name && !k.starts_with(&format!("{name}/")));
    Ok(Action::await_change())
}
