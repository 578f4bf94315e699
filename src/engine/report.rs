//! Report: turn what each scope saw and did into a per-region verdict. Pure.

use serde::Serialize;

use super::EngineError;
use super::PolicyInput;
use super::change::Change;
use super::desired::PolicyDesired;
use super::findings::{self, Finding, FindingInputs};
use super::scope::{RegionWork, RoleOutcome, TrailOutcome};
use crate::api::{Mode, RegionState};

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub large_data_bucket_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_group_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tamper_queue_arn: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RegionReport {
    pub region: String,
    pub state: RegionState,
    pub findings: Vec<Finding>,
    /// Changes still needed (Audit / dry run: what apply would do).
    pub pending: Vec<String>,
    /// Changes this pass made.
    pub applied: Vec<String>,
    pub error: Option<EngineError>,
    pub resources: Resources,
    /// What the tamper listener watches in this region (the queue exists).
    pub tamper_watch: Option<super::tamper::TamperWatch>,
    /// The last tamper event seen here (set by the controller's listener).
    pub last_tamper: Option<crate::api::TamperRecord>,
}

impl RegionReport {
    pub fn message(&self) -> String {
        match (&self.error, self.state) {
            (Some(e), _) => e.to_string(),
            (None, RegionState::Compliant) => "compliant".into(),
            (None, _) => {
                let failing: Vec<&str> = self
                    .findings
                    .iter()
                    .filter(|f| f.blocks_compliance())
                    .map(|f| f.id)
                    .collect();
                let mut parts = Vec::new();
                if !failing.is_empty() {
                    parts.push(format!("failing: {}", failing.join(", ")));
                }
                if !self.pending.is_empty() {
                    parts.push(format!("{} change(s) pending", self.pending.len()));
                }
                parts.join("; ")
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct PolicyReport {
    pub policy: String,
    pub mode: Mode,
    pub account_id: Option<String>,
    /// A failure that concerned the whole policy (STS, account pin, IAM role, trail).
    pub global_error: Option<EngineError>,
    pub regions: Vec<RegionReport>,
    /// Global changes still needed (role, trail), in Audit / dry run.
    pub global_pending: Vec<String>,
    pub global_applied: Vec<String>,
    /// This pass changed a role, key policy or bucket policy Bedrock depends on.
    pub permissions_changed: bool,
    /// `allRegions`: regions governed before that discovery no longer lists (left as they are).
    pub regions_gone: Vec<String>,
}

impl PolicyReport {
    /// The report of one region, if the pass governed it.
    pub fn region(&self, name: &str) -> Option<&RegionReport> {
        self.regions.iter().find(|r| r.region == name)
    }

    /// A report with nothing in it yet (deletion fills in what it did).
    pub fn empty(policy: &str, mode: Mode) -> Self {
        PolicyReport {
            policy: policy.to_string(),
            mode,
            account_id: None,
            global_error: None,
            regions: vec![],
            global_pending: vec![],
            global_applied: vec![],
            permissions_changed: false,
            regions_gone: vec![],
        }
    }

    pub fn global_failure(
        input: &PolicyInput<'_>,
        account: Option<String>,
        e: EngineError,
    ) -> Self {
        PolicyReport {
            policy: input.name.to_string(),
            mode: input.spec.mode,
            account_id: account,
            regions: input
                .spec
                .regions
                .iter()
                .map(|r| RegionReport {
                    region: r.clone(),
                    state: RegionState::Error,
                    findings: vec![],
                    pending: vec![],
                    applied: vec![],
                    error: Some(e.clone()),
                    resources: Resources::default(),
                    tamper_watch: None,
                    last_tamper: None,
                })
                .collect(),
            global_error: Some(e),
            global_pending: vec![],
            global_applied: vec![],
            permissions_changed: false,
            regions_gone: vec![],
        }
    }

    pub fn compliant_regions(&self) -> usize {
        self.regions
            .iter()
            .filter(|r| r.state == RegionState::Compliant)
            .count()
    }

    pub fn all_compliant(&self) -> bool {
        self.global_error.is_none() && self.compliant_regions() == self.regions.len()
    }

    pub fn has_errors(&self) -> bool {
        self.global_error.is_some() || self.regions.iter().any(|r| r.error.is_some())
    }

    /// Every change this pass made (global first).
    pub fn all_applied(&self) -> Vec<String> {
        let mut out = self.global_applied.clone();
        for r in &self.regions {
            out.extend(r.applied.iter().map(|c| format!("{}: {c}", r.region)));
        }
        out
    }

    /// Every change still pending (dry run / Audit).
    pub fn all_pending(&self) -> Vec<String> {
        let mut out = self.global_pending.clone();
        for r in &self.regions {
            out.extend(r.pending.iter().map(|c| format!("{}: {c}", r.region)));
        }
        out
    }
}

pub struct AssembleInputs<'a> {
    pub input: &'a PolicyInput<'a>,
    pub desired: &'a PolicyDesired,
    pub works: Vec<RegionWork>,
    pub role: Option<RoleOutcome>,
    pub trail: Option<TrailOutcome>,
    pub wrote: bool,
}

/// The verdict for one region. Pure.
pub fn region_state(
    mode_writes: bool,
    error: Option<&EngineError>,
    pending: bool,
    failing: bool,
    previous: Option<RegionState>,
) -> RegionState {
    if let Some(e) = error {
        return if matches!(e, EngineError::Conflict { .. }) {
            RegionState::Conflict
        } else {
            RegionState::Error
        };
    }
    match (mode_writes, pending, failing) {
        (_, false, false) => RegionState::Compliant,
        (true, true, _) => RegionState::Converging,
        (true, false, true) => RegionState::NonCompliant,
        (false, _, _) if previous == Some(RegionState::Compliant) => RegionState::Drifted,
        (false, _, _) => RegionState::NonCompliant,
    }
}

fn describe_all(changes: &[Change]) -> Vec<String> {
    changes.iter().map(Change::describe).collect()
}

pub fn assemble(a: AssembleInputs<'_>) -> PolicyReport {
    let role_error = a.role.as_ref().and_then(|r| r.error.clone());
    let trail_error = a.trail.as_ref().and_then(|t| t.error.clone());
    let role_observed = a.role.as_ref().and_then(|r| r.observed.as_ref());
    let trail_observed = a.trail.as_ref().and_then(|t| t.observed.as_ref());
    let mut global_pending = Vec::new();
    let mut global_applied = Vec::new();
    for (plan, applied) in a
        .role
        .iter()
        .map(|r| (&r.plan, &r.applied))
        .chain(a.trail.iter().map(|t| (&t.plan, &t.applied)))
    {
        global_pending.extend(describe_all(plan));
        global_applied.extend(applied.iter().cloned());
    }
    let global_error = role_error.clone().or(trail_error.clone());
    let mut regions = Vec::new();
    for region in &a.desired.all_regions {
        if let Some(owner) = a.desired.conflicts.get(region) {
            regions.push(RegionReport {
                region: region.clone(),
                state: RegionState::Conflict,
                findings: vec![],
                pending: vec![],
                applied: vec![],
                error: Some(EngineError::Conflict {
                    region: region.clone(),
                    owner: owner.clone(),
                }),
                resources: Resources::default(),
                tamper_watch: None,
                last_tamper: None,
            });
            continue;
        }
        let Some(w) = a.works.iter().find(|w| &w.desired.region == region) else {
            continue;
        };
        let d = &w.desired;
        let findings = match &w.scope.observed {
            Some(o) => findings::evaluate(&FindingInputs {
                desired: d,
                observed: o,
                role: role_observed,
                trail: trail_observed,
            }),
            None => vec![],
        };
        // A role or trail failure concerns every region that depends on it.
        let error = w
            .scope
            .error
            .clone()
            .or_else(|| match (&role_error, &d.role) {
                (Some(e), Some(_)) => Some(e.clone()),
                _ => None,
            })
            .or_else(|| match (&trail_error, d.trail_events.is_empty()) {
                (Some(e), false) => Some(e.clone()),
                _ => None,
            });
        let pending_here = describe_all(&w.scope.plan.destinations)
            .into_iter()
            .chain(describe_all(&w.scope.plan.bedrock))
            .chain(describe_all(&w.scope.plan.tamper))
            .collect::<Vec<_>>();
        let queue = w
            .scope
            .observed
            .as_ref()
            .and_then(|o| o.tamper.as_ref()?.queue.as_ref());
        // Global changes (role, trail) still pending keep the regions that depend on them open.
        let depends_on_global = d.role.is_some() || !d.trail_events.is_empty();
        let pending = !pending_here.is_empty() || (depends_on_global && !global_pending.is_empty());
        let failing = findings.iter().any(|f| f.blocks_compliance());
        let state = region_state(
            a.wrote,
            error.as_ref(),
            pending,
            failing,
            a.input.previous.get(region).copied(),
        );
        regions.push(RegionReport {
            region: region.clone(),
            state,
            findings,
            pending: pending_here,
            applied: w.scope.applied.clone(),
            error,
            resources: Resources {
                kms_key_arn: w.key_arn.clone(),
                bucket_arn: d.bucket_arn(),
                large_data_bucket_arn: d.large_bucket_arn(),
                log_group_arn: d.log_group_arn(),
                role_arn: d.role.as_ref().map(|r| r.arn().to_string()),
                tamper_queue_arn: queue.map(|q| q.arn.clone()),
            },
            tamper_watch: queue.map(|q| {
                super::tamper::watch(
                    d,
                    w.key_arn.as_deref(),
                    a.desired.trail.as_ref().map(|t| t.name.as_str()),
                    &q.url,
                )
            }),
            last_tamper: None,
        });
    }
    PolicyReport {
        policy: a.input.name.to_string(),
        mode: a.input.spec.mode,
        account_id: Some(a.desired.account.clone()),
        global_error,
        regions,
        global_pending,
        global_applied,
        permissions_changed: a.role.as_ref().is_some_and(|r| r.changed_permissions)
            || a.works.iter().any(|w| w.scope.changed_permissions),
        regions_gone: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::{CloudError, ErrorKind};

    #[test]
    fn state_table() {
        use RegionState::*;
        let transient = EngineError::Cloud(CloudError::new(ErrorKind::Throttled, "s3", "X", ""));
        let conflict = EngineError::Conflict {
            region: "r".into(),
            owner: "o".into(),
        };
        #[allow(clippy::type_complexity)]
        let cases: &[(
            bool,
            Option<&EngineError>,
            bool,
            bool,
            Option<RegionState>,
            RegionState,
        )] = &[
            (true, None, false, false, None, Compliant),
            (true, None, true, false, None, Converging),
            (true, None, false, true, None, NonCompliant),
            (false, None, false, false, None, Compliant),
            (false, None, true, true, None, NonCompliant),
            (false, None, true, true, Some(Compliant), Drifted),
            (false, None, false, true, Some(NonCompliant), NonCompliant),
            (true, Some(&transient), false, false, None, Error),
            (false, Some(&conflict), false, false, None, Conflict),
        ];
        for (w, e, p, f, prev, want) in cases {
            assert_eq!(
                region_state(*w, *e, *p, *f, *prev),
                *want,
                "{w} {e:?} {p} {f} {prev:?}"
            );
        }
    }
}
