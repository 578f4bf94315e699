//! The steps of one pass, each over one scope: observe → plan → execute (Enforce only) → re-read
//! and re-plan what it wrote. [`super::run_policy`] strings them together.

use super::change::Change;
use super::desired::{PolicyDesired, RegionDesired, TrailDesired};
use super::execute::{ExecContext, Executed, execute};
use super::observe::{Lookup, observe_region, observe_role, observe_trail};
use super::plan::{plan_bedrock, plan_region};
use super::plan_role::{RoleInputs, plan_role};
use super::plan_trail::plan_trail;
use super::scope::{RegionWork, RoleOutcome, TrailOutcome, affects_permissions};
use super::{EngineError, EngineOptions, grants};
use crate::cloud::{Cloud, ErrorKind};
use crate::policy_doc::role_policy::RoleRegion;

/// How long after the operator's last permission change Bedrock's "Failed to validate
/// permissions" still counts as propagation (SPEC §3: at least 2 minutes).
pub const PROPAGATION_WINDOW: std::time::Duration = std::time::Duration::from_secs(120);

fn context<'a>(
    cloud: &'a dyn Cloud,
    region: &'a str,
    policy: &'a str,
    opts: &EngineOptions,
    writes: bool,
) -> ExecContext<'a> {
    ExecContext {
        writes,
        cloud,
        region,
        tags: super::desired::resource_tags(policy),
        policy,
        permission_retry: opts.permission_retry,
        consistency_retry: opts.consistency_retry,
    }
}

fn touched_permissions(changes: &[Change], done: &Executed) -> bool {
    changes
        .iter()
        .take(done.applied.len() + usize::from(done.error.is_some()))
        .any(affects_permissions)
}

/// Observe and plan a region; in Enforce, converge its destinations (key, buckets, log group).
pub async fn destinations(
    cloud: &dyn Cloud,
    d: RegionDesired,
    write: bool,
    opts: &EngineOptions,
) -> RegionWork {
    let mut w = RegionWork::new(d);
    let lookup = if write {
        Lookup::BeforeWriting
    } else {
        Lookup::ReadOnly
    };
    let observed = match observe_region(cloud, &w.desired, lookup).await {
        Ok(o) => o,
        Err(EngineError::Cloud(e)) if e.kind == ErrorKind::NoEndpoint => {
            w.scope.error = Some(EngineError::spec(
                "spec.regions",
                format!(
                    "{} has no {} endpoint ({}:{} cannot be reached by name): Bedrock is not offered there, or the region is not enabled in the account; remove {} from spec.regions or enable the region",
                    w.desired.region, e.service, e.service, e.operation, w.desired.region
                ),
            ));
            return w;
        }
        Err(e) => {
            w.scope.error = Some(e);
            return w;
        }
    };
    w.key_arn = observed.key.as_ref().map(|k| k.info.arn.clone());
    match plan_region(&w.desired, &observed) {
        Ok(p) => w.scope.plan = p,
        Err(e) => w.scope.error = Some(e),
    }
    w.scope.observed = Some(observed);
    if write && w.scope.error.is_none() && !w.scope.plan.destinations.is_empty() {
        let cx = context(cloud, &w.desired.region, &w.desired.policy, opts, write);
        let done = execute(&cx, &w.scope.plan.destinations, None).await;
        w.scope.changed_permissions = touched_permissions(&w.scope.plan.destinations, &done);
        if let Some(arn) = done.created_key.clone() {
            w.key_arn = Some(arn);
        }
        w.scope.applied = done.applied;
        w.scope.error = done.error;
    }
    w
}

/// Read the delivery role before any write and check that its trust will fit IAM's limit, so a
/// policy that cannot be converged writes nothing anywhere.
pub async fn role_precheck(
    cloud: &dyn Cloud,
    desired: &PolicyDesired,
) -> Option<Result<super::observe::RoleObserved, EngineError>> {
    let role = desired.role.as_ref()?;
    let regions: Vec<String> = desired
        .regions
        .iter()
        .filter(|d| d.log_group.is_some())
        .map(|d| d.region.clone())
        .collect();
    Some(
        async {
            let observed = observe_role(cloud, role, &desired.policy).await?;
            super::plan_role::check_trust_fits(
                &desired.policy,
                &desired.account,
                role,
                &regions,
                &observed,
            )?;
            Ok(observed)
        }
        .await,
    )
}

/// The delivery role (global): plan from every converged region (starting from what the
/// precheck read), write, re-read and re-plan.
pub async fn role(
    cloud: &dyn Cloud,
    desired: &PolicyDesired,
    works: &[RegionWork],
    write: bool,
    opts: &EngineOptions,
    first_read: Option<super::observe::RoleObserved>,
) -> Option<RoleOutcome> {
    let role = desired.role.as_ref()?;
    let regions: Vec<RoleRegion> = works
        .iter()
        .filter_map(|w| {
            Some(RoleRegion {
                region: w.desired.region.clone(),
                log_group: w.desired.log_group.as_ref()?.name.clone(),
                key_arn: w.key_arn.clone(),
            })
        })
        .collect();
    let inputs = RoleInputs {
        policy: &desired.policy,
        account: &desired.account,
        role,
        regions,
    };
    let observe_and_plan = || async {
        let observed = observe_role(cloud, role, &desired.policy).await?;
        let plan = plan_role(&inputs, &observed)?;
        Ok::<_, EngineError>((observed, plan))
    };
    let mut out = RoleOutcome::default();
    let first = match first_read {
        Some(o) => plan_role(&inputs, &o).map(|p| (o, p)),
        None => observe_and_plan().await,
    };
    match first {
        Err(e) => return Some(RoleOutcome::failed(e)),
        Ok((o, p)) => {
            out.observed = Some(o);
            out.plan = p;
        }
    }
    if write && !out.plan.is_empty() {
        let cx = context(cloud, "", &desired.policy, opts, write);
        let done = execute(&cx, &out.plan, None).await;
        out.changed_permissions = touched_permissions(&out.plan, &done);
        out.applied = done.applied;
        out.error = done.error;
        match observe_and_plan().await {
            Ok((o, p)) => {
                out.observed = Some(o);
                out.plan = p;
            }
            Err(e) => {
                out.error.get_or_insert(e);
            }
        }
    }
    Some(out)
}

/// CloudTrail data events (global: the trail lives in its home region).
pub async fn trail(
    cloud: &dyn Cloud,
    desired: Option<&TrailDesired>,
    policy: &str,
    write: bool,
    opts: &EngineOptions,
) -> Option<TrailOutcome> {
    let t = desired?;
    let observe_and_plan = || async {
        let observed = observe_trail(cloud, t).await?;
        let plan = plan_trail(t, &observed);
        Ok::<_, EngineError>((observed, plan))
    };
    let mut out = TrailOutcome::default();
    match observe_and_plan().await {
        Err(e) => return Some(TrailOutcome::failed(e)),
        Ok((o, p)) => {
            out.observed = Some(o);
            match p {
                Ok(p) => out.plan = p,
                Err(e) => out.error = Some(e),
            }
        }
    }
    if write && out.error.is_none() && !out.plan.is_empty() {
        let cx = context(cloud, &t.ask_region, policy, opts, write);
        let done = execute(&cx, &out.plan, None).await;
        out.applied = done.applied;
        out.error = done.error;
        match observe_and_plan().await {
            Ok((o, p)) => {
                out.observed = Some(o);
                out.plan = p.unwrap_or_default();
            }
            Err(e) => {
                out.error.get_or_insert(e);
            }
        }
    }
    Some(out)
}

/// What the Bedrock step knows of the pass and the permission-propagation window.
#[derive(Debug, Clone, Copy)]
pub struct Propagation {
    /// The pass may write (Enforce, not a dry run).
    pub writes: bool,
    /// The caller says the window is still open (the controller tracks it across passes).
    pub grace: bool,
    /// This pass changed a role, key policy or bucket policy Bedrock depends on.
    pub changed_now: bool,
}

/// The Bedrock logging configuration of one region (Enforce), planned against the role ARN IAM
/// returned. A lasting "Failed to validate permissions" becomes a terminal error that names the
/// missing grant.
pub async fn bedrock(
    cloud: &dyn Cloud,
    mut w: RegionWork,
    role: Option<&RoleOutcome>,
    propagation: Propagation,
    opts: &EngineOptions,
) -> RegionWork {
    let Some(observed) = w.scope.observed.as_ref() else {
        return w;
    };
    w.scope.plan.bedrock = plan_bedrock(&w.desired, observed);
    if w.scope.error.is_some() || w.scope.plan.bedrock.is_empty() {
        return w;
    }
    if let Some(e) = role
        .and_then(|r| r.error.as_ref())
        .filter(|_| w.desired.role.is_some())
    {
        w.scope.error = Some(e.clone());
        return w;
    }
    let role_observed = role.and_then(|r| r.observed.as_ref());
    // A grant the operator may not add will not propagate: do not wait for it in place.
    let definite = grants::definite_gap(&w.desired, observed, role_observed);
    let mut cx = context(
        cloud,
        &w.desired.region,
        &w.desired.policy,
        opts,
        propagation.writes,
    );
    if definite.is_some() {
        cx.permission_retry = std::time::Duration::ZERO;
    }
    let done = execute(&cx, &w.scope.plan.bedrock, None).await;
    w.scope.applied.extend(done.applied);
    w.scope.error = match done.error {
        Some(EngineError::Cloud(e)) if e.kind == ErrorKind::PermissionPropagation => {
            let changed = propagation.changed_now || w.scope.changed_permissions;
            let window_open = definite.is_none()
                && (propagation.grace || (changed && opts.permission_retry < PROPAGATION_WINDOW));
            if window_open {
                Some(EngineError::Cloud(e))
            } else {
                // Name what is missing from AWS as it is now, after this pass's writes.
                let fresh = match definite {
                    Some(_) => None,
                    None => observe_region(cloud, &w.desired, Lookup::ReadOnly)
                        .await
                        .ok(),
                };
                let now = fresh.as_ref().unwrap_or(observed);
                Some(EngineError::DestinationAccess {
                    region: w.desired.region.clone(),
                    missing: definite
                        .unwrap_or_else(|| grants::missing(&w.desired, now, role_observed)),
                    aws: e.message.clone(),
                })
            }
        }
        other => other,
    };
    w
}

/// The tamper-response wiring of one region (Enforce), after Bedrock: a failure here is reported
/// for the region but never keeps logging from being repaired.
pub async fn tamper(cloud: &dyn Cloud, mut w: RegionWork, opts: &EngineOptions) -> RegionWork {
    if w.scope.observed.is_none() || w.scope.plan.tamper.is_empty() {
        return w;
    }
    let cx = context(cloud, &w.desired.region, &w.desired.policy, opts, true);
    let done = execute(&cx, &w.scope.plan.tamper, None).await;
    w.scope.applied.extend(done.applied);
    if let Some(e) = done.error {
        w.scope.error.get_or_insert(e);
    }
    w
}

/// Re-read a region this pass wrote to, so the report describes AWS rather than intentions,
/// and what is still pending is what remains (also after a failure part-way).
pub async fn verify(cloud: &dyn Cloud, mut w: RegionWork) -> RegionWork {
    if w.scope.applied.is_empty() {
        return w;
    }
    match observe_region(cloud, &w.desired, Lookup::BeforeWriting).await {
        Ok(mut o) => {
            // Duplicates seen before the alias existed stay reported for this pass.
            let before = w.scope.observed.as_ref().and_then(|p| p.key.as_ref());
            if let (Some(k), Some(b)) = (o.key.as_mut(), before)
                && k.extra_keys.is_empty()
            {
                k.extra_keys = b.extra_keys.clone();
            }
            w.key_arn = o.key.as_ref().map(|k| k.info.arn.clone()).or(w.key_arn);
            w.scope.plan = plan_region(&w.desired, &o).unwrap_or_default();
            w.scope.observed = Some(o);
        }
        Err(e) => {
            w.scope.error.get_or_insert(e);
        }
    }
    w
}
