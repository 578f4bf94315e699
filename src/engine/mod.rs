//! The policy engine: for one policy, per region, observe → validate → plan → execute → report.
//! Regions run in parallel under a concurrency bound; one region's failure never blocks or
//! rolls back another. The IAM role (global) is converged between the destination step and the
//! Bedrock step of every region.

pub mod change;
pub mod desired;
pub mod error;
pub mod execute;
pub mod findings;
#[cfg(test)]
mod findings_tests;
pub mod observe;
pub mod plan;
pub mod plan_role;
pub mod plan_trail;
pub mod report;
pub mod status;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use crate::api::{BedrockLoggingPolicySpec, Mode, RegionState};
use crate::cloud::{AccountTarget, Cloud, CloudFactory};
use crate::policy_doc::role_policy::RoleRegion;

pub use change::{Change, KeyRef};
pub use desired::RegionDesired;
pub use error::EngineError;
use execute::{ExecContext, execute};
pub use findings::{Finding, TrailObserved};
use observe::{Lookup, RegionObserved, RoleObserved, observe_region, observe_role};
use plan::{RegionPlan, plan_region};
use plan_role::{RoleInputs, plan_role};
pub use report::{PolicyReport, RegionReport, Resources};

#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Plan only, never write (also forced by `mode: Audit`).
    pub dry_run: bool,
    /// Regions converged at once.
    pub region_concurrency: usize,
    /// How long to keep retrying Bedrock's "Failed to validate permissions" (IAM propagation).
    pub permission_retry: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            dry_run: false,
            region_concurrency: 8,
            permission_retry: Duration::from_secs(150),
        }
    }
}

/// One policy to run.
pub struct PolicyInput<'a> {
    pub name: &'a str,
    pub spec: &'a BedrockLoggingPolicySpec,
    /// Regions owned by another (older) policy: region → owner name. Nothing is done there.
    pub conflicts: &'a BTreeMap<String, String>,
    /// The state each region had after the previous pass (Drifted detection in Audit).
    pub previous: &'a BTreeMap<String, RegionState>,
}

/// Work carried for one region through the pipeline.
struct RegionWork {
    desired: RegionDesired,
    observed: Option<RegionObserved>,
    plan: RegionPlan,
    applied: Vec<String>,
    error: Option<EngineError>,
    key_arn: Option<String>,
}

impl RegionWork {
    fn failed(desired: RegionDesired, error: EngineError) -> Self {
        RegionWork {
            desired,
            observed: None,
            plan: RegionPlan::default(),
            applied: vec![],
            error: Some(error),
            key_arn: None,
        }
    }
}

fn writes(spec: &BedrockLoggingPolicySpec, opts: &EngineOptions) -> bool {
    spec.mode == Mode::Enforce && !opts.dry_run
}

/// The execution context of one region's changes.
fn region_context<'a>(
    cloud: &'a dyn Cloud,
    d: &'a RegionDesired,
    opts: &EngineOptions,
) -> ExecContext<'a> {
    ExecContext {
        cloud,
        region: &d.region,
        tags: d.tags(),
        policy: &d.policy,
        permission_retry: opts.permission_retry,
    }
}

async fn destinations_phase(
    cloud: &dyn Cloud,
    d: RegionDesired,
    write: bool,
    opts: &EngineOptions,
) -> RegionWork {
    let lookup = if write {
        Lookup::BeforeWriting
    } else {
        Lookup::ReadOnly
    };
    let observed = match observe_region(cloud, &d, lookup).await {
        Ok(o) => o,
        Err(e) => return RegionWork::failed(d, e),
    };
    let plan = match plan_region(&d, &observed) {
        Ok(p) => p,
        Err(e) => {
            let mut w = RegionWork::failed(d, e);
            w.key_arn = observed.key.as_ref().map(|k| k.info.arn.clone());
            w.observed = Some(observed);
            return w;
        }
    };
    let mut work = RegionWork {
        key_arn: observed.key.as_ref().map(|k| k.info.arn.clone()),
        desired: d,
        observed: Some(observed),
        plan,
        applied: vec![],
        error: None,
    };
    if write && !work.plan.destinations.is_empty() {
        let cx = region_context(cloud, &work.desired, opts);
        let done = execute(&cx, &work.plan.destinations, None).await;
        if let Some(arn) = done.created_key {
            work.key_arn = Some(arn);
        }
        work.applied = done.applied;
        work.error = done.error;
    }
    work
}

async fn bedrock_phase(
    cloud: &dyn Cloud,
    mut work: RegionWork,
    blocked: Option<&EngineError>,
    opts: &EngineOptions,
) -> RegionWork {
    if work.error.is_some() || work.plan.bedrock.is_empty() {
        return work;
    }
    if let Some(e) = blocked.filter(|_| work.desired.role.is_some()) {
        work.error = Some(e.clone());
        return work;
    }
    let cx = region_context(cloud, &work.desired, opts);
    let done = execute(&cx, &work.plan.bedrock, None).await;
    work.applied.extend(done.applied);
    work.error = done.error;
    work
}

/// Which account a spec acts in.
pub fn account_target(spec: &BedrockLoggingPolicySpec) -> AccountTarget {
    AccountTarget {
        role_arn: spec.account.as_ref().and_then(|a| a.role_arn.clone()),
        external_id: spec.account.as_ref().and_then(|a| a.external_id.clone()),
    }
}

/// Get the policy's account from `factory` (assuming its role) and run it there; a failure to
/// get credentials is reported as a policy-level error.
pub async fn run_in_account(
    factory: &dyn CloudFactory,
    input: &PolicyInput<'_>,
    opts: &EngineOptions,
) -> PolicyReport {
    match factory
        .cloud_for(&account_target(input.spec), &format!("blo-{}", input.name))
        .await
    {
        Ok(cloud) => run_policy(cloud, input, opts).await,
        Err(e) => PolicyReport::global_failure(input, None, e.into()),
    }
}

/// Converge (or, in Audit / dry run, evaluate) one policy in one account.
pub async fn run_policy(
    cloud: Arc<dyn Cloud>,
    input: &PolicyInput<'_>,
    opts: &EngineOptions,
) -> PolicyReport {
    let spec = input.spec;
    let write = writes(spec, opts);
    let account = match cloud.account_id().await {
        Ok(a) => a,
        Err(e) => return PolicyReport::global_failure(input, None, e.into()),
    };
    if let Some(pin) = spec.account.as_ref().and_then(|a| a.id.as_ref())
        && *pin != account
    {
        let e = EngineError::AccountMismatch {
            expected: pin.clone(),
            actual: account.clone(),
        };
        return PolicyReport::global_failure(input, Some(account), e);
    }

    // Phase 1: observe, plan, and converge destinations, regions in parallel.
    let active: Vec<RegionDesired> = spec
        .regions
        .iter()
        .filter(|r| !input.conflicts.contains_key(*r))
        .map(|r| RegionDesired::resolve(input.name, spec, r, &account))
        .collect();
    let conc = opts.region_concurrency.max(1);
    let mut works: Vec<RegionWork> = futures::stream::iter(
        active
            .into_iter()
            .map(|d| destinations_phase(cloud.as_ref(), d, write, opts)),
    )
    .buffer_unordered(conc)
    .collect()
    .await;

    // Phase 2 (global): the IAM role Bedrock assumes for CloudWatch delivery.
    let mut global_planned = Vec::new();
    let mut global_applied = Vec::new();
    let mut role_error: Option<EngineError> = None;
    let mut role_observed: Option<RoleObserved> = None;
    // Regions owned by another policy (conflicts) are left to their owner's statements.
    let role_regions: Vec<&String> = spec
        .regions
        .iter()
        .filter(|r| !input.conflicts.contains_key(*r))
        .collect();
    if let Some(role) = desired::role_desired(spec, &account).filter(|_| !role_regions.is_empty()) {
        match observe_role(cloud.as_ref(), &role, input.name).await {
            Err(e) => role_error = Some(e),
            Ok(observed) => {
                let regions = role_regions
                    .iter()
                    .filter_map(|r| {
                        let work = works.iter().find(|w| &w.desired.region == *r);
                        let log_group = spec
                            .cloud_watch
                            .as_ref()
                            .map(|c| desired::substitute(&c.log_group_name, r, &account))?;
                        Some(RoleRegion {
                            region: (*r).clone(),
                            log_group,
                            key_arn: work.and_then(|w| w.key_arn.clone()),
                        })
                    })
                    .collect();
                let inputs = RoleInputs {
                    policy: input.name,
                    account: &account,
                    role: &role,
                    regions,
                };
                match plan_role(&inputs, &observed) {
                    Err(e) => role_error = Some(e),
                    Ok(changes) => {
                        global_planned.extend(changes.iter().map(Change::describe));
                        if write && !changes.is_empty() {
                            let cx = ExecContext {
                                cloud: cloud.as_ref(),
                                region: "",
                                tags: desired::resource_tags(input.name),
                                policy: input.name,
                                permission_retry: opts.permission_retry,
                            };
                            let done = execute(&cx, &changes, None).await;
                            global_applied.extend(done.applied);
                            role_error = done.error;
                        }
                    }
                }
                role_observed = Some(observed);
            }
        }
    }

    // Phase 3: CloudTrail data events (global: the trail lives in its home region).
    let mut trail_error: Option<EngineError> = None;
    let mut trail_observed: Option<TrailObserved> = None;
    if let Some(ct) = &spec.cloud_trail {
        match report::observe_trail(cloud.as_ref(), &spec.regions[0], &ct.trail_name).await {
            Err(e) => trail_error = Some(e),
            Ok(obs) => {
                if let TrailObserved::Found { info, selectors } = &obs
                    && let Some((merged, summary)) =
                        plan_trail::plan_selectors(selectors, &ct.data_events)
                {
                    let change = Change::PutTrailSelectors {
                        trail: info.arn.clone(),
                        home_region: info.home_region.clone(),
                        selectors: merged,
                        summary,
                    };
                    global_planned.push(change.describe());
                    if write {
                        let cx = ExecContext {
                            cloud: cloud.as_ref(),
                            region: &info.home_region,
                            tags: vec![],
                            policy: input.name,
                            permission_retry: opts.permission_retry,
                        };
                        let done = execute(&cx, std::slice::from_ref(&change), None).await;
                        global_applied.extend(done.applied);
                        trail_error = done.error;
                    }
                }
                if let TrailObserved::Missing(name) = &obs {
                    trail_error = Some(EngineError::spec(
                        "spec.cloudTrail.trailName",
                        format!(
                            "trail {name} does not exist (looked up from {}): create it, or fix the name or ARN",
                            spec.regions[0]
                        ),
                    ));
                }
                trail_observed = Some(obs);
            }
        }
    }

    // Phase 4: Bedrock logging configuration, regions in parallel.
    if write {
        let blocked = role_error.clone();
        works = futures::stream::iter(
            works
                .into_iter()
                .map(|w| bedrock_phase(cloud.as_ref(), w, blocked.as_ref(), opts)),
        )
        .buffer_unordered(conc)
        .collect()
        .await;
    }

    // Verify: re-read what was written so the report describes AWS, not our intentions.
    if write && !global_applied.is_empty() {
        if let Some(role) = desired::role_desired(spec, &account)
            && let Ok(o) = observe_role(cloud.as_ref(), &role, input.name).await
        {
            role_observed = Some(o);
        }
        if let Some(ct) = &spec.cloud_trail
            && let Ok(o) =
                report::observe_trail(cloud.as_ref(), &spec.regions[0], &ct.trail_name).await
        {
            trail_observed = Some(o);
        }
    }
    if write {
        works = futures::stream::iter(works.into_iter().map(|w| verify_region(cloud.as_ref(), w)))
            .buffer_unordered(conc)
            .collect()
            .await;
    }

    report::assemble(report::AssembleInputs {
        input,
        account,
        works: works
            .into_iter()
            .map(|w| report::RegionOutcome {
                desired: w.desired,
                observed: w.observed,
                pending: w.plan.all().map(Change::describe).collect(),
                applied: w.applied,
                error: w.error,
                key_arn: w.key_arn,
            })
            .collect(),
        role_observed,
        role_error,
        trail_observed,
        trail_error,
        global_planned: if write { vec![] } else { global_planned },
        global_applied,
        wrote: write,
    })
}

/// Re-read a region this pass wrote to, so the report describes AWS rather than intentions,
/// and what is still pending is what remains (also after a failure part-way).
async fn verify_region(cloud: &dyn Cloud, mut w: RegionWork) -> RegionWork {
    if w.applied.is_empty() {
        return w;
    }
    match observe_region(cloud, &w.desired, Lookup::BeforeWriting).await {
        Ok(o) => {
            w.key_arn = o.key.as_ref().map(|k| k.info.arn.clone()).or(w.key_arn);
            w.plan = plan_region(&w.desired, &o).unwrap_or_default();
            w.observed = Some(o);
        }
        Err(e) => {
            w.error.get_or_insert(e);
        }
    }
    w
}
