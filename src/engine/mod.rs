//! The policy engine. Per policy: resolve the spec once ([`PolicyDesired`]), then per scope
//! (region, delivery role, trail) observe → plan (pure) → execute (Enforce only) → re-read and
//! re-plan, then report (pure). Regions run in parallel under a bound; one region's failure never
//! blocks or rolls back another.

pub mod change;
pub mod delete;
pub mod desired;
pub mod discovery;
pub mod error;
pub mod execute;
#[cfg(test)]
mod fidelity_tests;
pub mod findings;
#[cfg(test)]
mod findings_tests;
pub mod grants;
pub mod judge;
pub mod observe;
pub mod org_status;
#[cfg(test)]
mod org_tests;
pub mod organization;
pub mod phases;
pub mod plan;
pub mod plan_role;
pub mod plan_trail;
pub mod report;
pub mod scope;
pub mod status;
pub mod tamper;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use crate::api::{BedrockLoggingPolicySpec, Mode, RegionState};
use crate::cloud::{AccountTarget, Cloud, CloudFactory};

pub use change::{Change, KeyRef};
pub use delete::run_deletion;
pub use desired::{PolicyDesired, RegionDesired};
pub use error::EngineError;
pub use findings::{Finding, TrailObserved};
use phases::Propagation;
pub use report::{PolicyReport, RegionReport, Resources};
use scope::RegionWork;

#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Plan only, never write (`mode: Audit` never writes either).
    pub dry_run: bool,
    /// Regions converged at once.
    pub region_concurrency: usize,
    /// How long to keep retrying Bedrock's "Failed to validate permissions" (IAM propagation).
    pub permission_retry: Duration,
    /// How long to retry in place AWS's errors right after a create (eventual consistency).
    pub consistency_retry: Duration,
    /// Member accounts of an organization policy converged at once.
    pub account_concurrency: usize,
    /// Spacing of Organizations calls while listing member accounts.
    pub org_call_interval: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            dry_run: false,
            region_concurrency: 8,
            permission_retry: Duration::from_secs(150),
            consistency_retry: Duration::from_secs(30),
            account_concurrency: 8,
            org_call_interval: Duration::from_secs(1),
        }
    }
}

/// Who owns which account+region: judged once the policy's account is resolved (STS).
pub trait Ownership: Send + Sync {
    /// Of `regions` (this policy's, in `account`), those owned by another (older) policy:
    /// region → owner.
    fn owners(&self, account: &str, regions: &[String]) -> BTreeMap<String, String>;
}

/// A fixed map (the CLI has no other policies; tests).
impl Ownership for BTreeMap<String, String> {
    fn owners(&self, _account: &str, regions: &[String]) -> BTreeMap<String, String> {
        self.iter()
            .filter(|(r, _)| regions.contains(r))
            .map(|(r, o)| (r.clone(), o.clone()))
            .collect()
    }
}

/// One policy to run.
pub struct PolicyInput<'a> {
    pub name: &'a str,
    pub spec: &'a BedrockLoggingPolicySpec,
    /// Ownership of account+region pairs: nothing is done where another policy owns it.
    pub conflicts: &'a dyn Ownership,
    /// The state each region had after the previous pass (Drifted detection in Audit).
    pub previous: &'a BTreeMap<String, RegionState>,
    /// The caller (controller) says Bedrock's permission errors are still within the
    /// propagation window after the operator's last permission change.
    pub permission_grace: bool,
}

fn writes(spec: &BedrockLoggingPolicySpec, opts: &EngineOptions) -> bool {
    spec.mode == Mode::Enforce && !opts.dry_run
}

/// Which account a spec acts in.
pub fn account_target(spec: &BedrockLoggingPolicySpec) -> AccountTarget {
    AccountTarget {
        role_arn: spec.account.as_ref().and_then(|a| a.role_arn.clone()),
        external_id: spec.account.as_ref().and_then(|a| a.external_id.clone()),
    }
}

/// Credentials for the policy's account; a refused AssumeRole is terminal and names the field.
pub async fn cloud_for_policy(
    factory: &dyn CloudFactory,
    input: &PolicyInput<'_>,
) -> Result<Arc<dyn Cloud>, EngineError> {
    let target = account_target(input.spec);
    factory
        .cloud_for(&target, &format!("blo-{}", input.name))
        .await
        .map_err(|e| match (&target.role_arn, e.kind) {
            (Some(role), crate::cloud::ErrorKind::AccessDenied) => EngineError::AssumeRoleDenied {
                field: if input.spec.accounts.is_some() {
                    "spec.accounts.roleName"
                } else {
                    "spec.account.roleArn"
                },
                role: role.clone(),
                external: if target.external_id.is_some() {
                    " and carry the spec's ExternalId in an sts:ExternalId condition"
                } else {
                    ""
                },
                message: e.message,
            },
            _ => e.into(),
        })
}

/// The governed account (STS), checked against the `spec.account.id` pin.
pub async fn resolve_account(
    cloud: &dyn Cloud,
    spec: &BedrockLoggingPolicySpec,
) -> Result<String, (Option<String>, EngineError)> {
    let account = cloud.account_id().await.map_err(|e| (None, e.into()))?;
    match spec.account.as_ref().and_then(|a| a.id.as_ref()) {
        Some(pin) if *pin != account => Err((
            Some(account.clone()),
            EngineError::AccountMismatch {
                expected: pin.clone(),
                actual: account,
            },
        )),
        _ => Ok(account),
    }
}

/// Get the policy's account from `factory` (assuming its role) and run it there; a failure to
/// get credentials is reported as a policy-level error.
pub async fn run_in_account(
    factory: &dyn CloudFactory,
    input: &PolicyInput<'_>,
    opts: &EngineOptions,
) -> PolicyReport {
    match cloud_for_policy(factory, input).await {
        Ok(cloud) => run_policy(cloud, input, opts).await,
        Err(e) => PolicyReport::global_failure(input, None, e),
    }
}

/// Run `f` over every region, `bound` at a time.
async fn each_region<F, Fut>(works: Vec<RegionWork>, bound: usize, f: F) -> Vec<RegionWork>
where
    F: Fn(RegionWork) -> Fut,
    Fut: Future<Output = RegionWork>,
{
    futures::stream::iter(works.into_iter().map(f))
        .buffer_unordered(bound.max(1))
        .collect()
        .await
}

/// Converge (or, in Audit / dry run, evaluate) one policy in one account.
pub async fn run_policy(
    cloud: Arc<dyn Cloud>,
    input: &PolicyInput<'_>,
    opts: &EngineOptions,
) -> PolicyReport {
    let c = cloud.as_ref();
    let account = match resolve_account(c, input.spec).await {
        Ok(a) => a,
        Err((seen, e)) => return PolicyReport::global_failure(input, seen, e),
    };
    let regions = match &input.spec.all_regions {
        None => input.spec.regions.clone(),
        Some(all) => match discovery::discover_regions(c, all).await {
            Ok(r) => r,
            Err(e) => return PolicyReport::global_failure(input, Some(account), e),
        },
    };
    let desired = PolicyDesired::resolve(
        input.name,
        input.spec,
        &account,
        &regions,
        input.conflicts.owners(&account, &regions),
    );
    let (mut write, bound) = (writes(input.spec, opts), opts.region_concurrency);
    // A role that cannot fit (IAM size limits) stops the pass before its first write.
    let (first_role_read, role_blocked) = match phases::role_precheck(c, &desired).await {
        Some(Ok(o)) => (Some(o), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    write &= role_blocked.is_none();

    let works = desired
        .regions
        .iter()
        .cloned()
        .map(RegionWork::new)
        .collect();
    let mut works = each_region(works, bound, |w| {
        phases::destinations(c, w.desired, write, opts)
    })
    .await;
    let role = match role_blocked {
        Some(e) => Some(scope::RoleOutcome::failed(e)),
        None => phases::role(c, &desired, &works, write, opts, first_role_read).await,
    };
    if let Some(arn) = role
        .as_ref()
        .and_then(|r| r.observed.as_ref()?.role.as_ref())
        .map(|i| i.arn.clone())
    {
        works.iter_mut().for_each(|w| w.desired.set_role_arn(&arn));
    }
    let trail = phases::trail(c, desired.governed_trail(), input.name, write, opts).await;
    if write {
        let propagation = Propagation {
            writes: write,
            grace: input.permission_grace,
            changed_now: role.as_ref().is_some_and(|r| r.changed_permissions),
        };
        works = each_region(works, bound, |w| {
            phases::bedrock(c, w, role.as_ref(), propagation, opts)
        })
        .await;
        works = each_region(works, bound, |w| phases::tamper(c, w, opts)).await;
        works = each_region(works, bound, |w| phases::verify(c, w)).await;
    } else {
        works = works
            .into_iter()
            .map(|mut w| {
                if let Some(o) = &w.scope.observed {
                    w.scope.plan.bedrock = plan::plan_bedrock(&w.desired, o);
                }
                w
            })
            .collect();
    }
    let mut report = report::assemble(report::AssembleInputs {
        input,
        desired: &desired,
        works,
        role,
        trail,
        wrote: write,
    });
    // A region no longer enabled (or without Bedrock) is reported once, never cleaned up.
    report.regions_gone = input
        .previous
        .keys()
        .filter(|r| input.spec.all_regions.is_some() && !regions.contains(r))
        .cloned()
        .collect();
    report
}
