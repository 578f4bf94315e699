//! Deletion of a policy, through the same observe → plan → execute → report spine: with
//! `deletionPolicy: Disable` in Enforce mode, turn Bedrock logging off in each region where the
//! configuration is still this policy's. Audit (whatever its deletion policy) and Retain make no
//! AWS call at all. Buckets, objects, log groups and keys are never deleted.

use super::change::Change;
use super::desired::{PolicyDesired, RegionDesired};
use super::execute::{ExecContext, execute};
use super::report::{PolicyReport, RegionReport, Resources};
use super::{EngineError, EngineOptions, PolicyInput, cloud_for_policy, judge, resolve_account};
use crate::api::{BedrockLoggingPolicySpec, DeletionPolicy, Mode, RegionState};
use crate::cloud::{Cloud, CloudFactory, LoggingConfig};

/// Plan the deletion of one region. Pure.
pub fn plan_deletion(d: &RegionDesired, observed: Option<&LoggingConfig>) -> Vec<Change> {
    if judge::logging_ok(&d.logging_config(), observed) {
        vec![Change::DeleteLoggingConfig]
    } else {
        vec![] // off already, or someone else's configuration now: left as is
    }
}

/// Whether deleting a policy may write to AWS at all (else it makes no AWS call).
pub fn deletion_writes(spec: &BedrockLoggingPolicySpec) -> bool {
    spec.mode == Mode::Enforce && spec.deletion_policy == DeletionPolicy::Disable
}

fn region_report(
    region: &str,
    pending: Vec<String>,
    applied: Vec<String>,
    error: Option<EngineError>,
) -> RegionReport {
    RegionReport {
        region: region.to_string(),
        state: if error.is_some() {
            RegionState::Error
        } else {
            RegionState::Compliant
        },
        findings: vec![],
        pending,
        applied,
        error,
        resources: Resources::default(),
        tamper_watch: None,
        last_tamper: None,
    }
}

async fn delete_region(
    cloud: &dyn Cloud,
    d: &RegionDesired,
    write: bool,
    opts: &EngineOptions,
) -> RegionReport {
    let observed = match cloud.bedrock_get_logging(&d.region).await {
        Ok(o) => o,
        Err(e) => return region_report(&d.region, vec![], vec![], Some(e.into())),
    };
    let plan = plan_deletion(d, observed.as_ref());
    if !write || plan.is_empty() {
        let pending = plan.iter().map(Change::describe).collect();
        return region_report(&d.region, pending, vec![], None);
    }
    let cx = ExecContext {
        writes: write,
        cloud,
        region: &d.region,
        tags: vec![],
        policy: &d.policy,
        permission_retry: opts.permission_retry,
        consistency_retry: opts.consistency_retry,
    };
    let done = execute(&cx, &plan, None).await;
    region_report(&d.region, vec![], done.applied, done.error)
}

/// Run the deletion of a policy. The report lists what was disabled (or, in a dry run, what
/// would be), and any error (the finalizer then stays and the deletion is retried).
pub async fn run_deletion(
    factory: &dyn CloudFactory,
    input: &PolicyInput<'_>,
    opts: &EngineOptions,
) -> PolicyReport {
    let mut report = PolicyReport::empty(input.name, input.spec.mode);
    if !deletion_writes(input.spec) {
        return report; // Audit never writes; Retain leaves AWS as it is: no AWS call at all.
    }
    let cloud = match cloud_for_policy(factory, input).await {
        Ok(c) => c,
        Err(e) => {
            report.global_error = Some(e);
            return report;
        }
    };
    let account = match resolve_account(cloud.as_ref(), input.spec).await {
        Ok(a) => a,
        // Never touch an account the policy was not allowed to write to.
        Err((seen, e)) => {
            report.account_id = seen;
            if !matches!(e, EngineError::AccountMismatch { .. }) {
                report.global_error = Some(e);
            }
            return report;
        }
    };
    report.account_id = Some(account.clone());
    // allRegions: the regions the policy last governed (its status), not a fresh discovery.
    let regions: Vec<String> = match &input.spec.all_regions {
        None => input.spec.regions.clone(),
        Some(all) if input.previous.is_empty() => {
            match super::discovery::discover_regions(cloud.as_ref(), all).await {
                Ok(r) => r,
                Err(e) => {
                    report.global_error = Some(e);
                    return report;
                }
            }
        }
        Some(_) => input.previous.keys().cloned().collect(),
    };
    let mut desired = PolicyDesired::resolve(
        input.name,
        input.spec,
        &account,
        &regions,
        input.conflicts.owners(&account, &regions),
    );
    // Match the configuration against the role ARN IAM returns (a role may live under a path).
    if let Some(role) = &desired.role
        && let Ok(Some(info)) = cloud.iam_get_role(role.name()).await
    {
        desired
            .regions
            .iter_mut()
            .for_each(|d| d.set_role_arn(&info.arn));
    }
    let write = !opts.dry_run;
    for d in &desired.regions {
        report
            .regions
            .push(delete_region(cloud.as_ref(), d, write, opts).await);
    }
    report.global_error = report.regions.iter().find_map(|r| r.error.clone());
    report
}
