//! Report: turn what each region saw and did into a per-region verdict. Pure except for
//! [`observe_trail`], the trail read shared by the engine phases.

use serde::Serialize;

use super::EngineError;
use super::PolicyInput;
use super::desired::RegionDesired;
use super::findings::{self, Finding, FindingInputs, TrailObserved};
use super::observe::{RegionObserved, RoleObserved};
use crate::api::{Mode, RegionState};
use crate::cloud::Cloud;

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
}

impl PolicyReport {
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
                })
                .collect(),
            global_error: Some(e),
            global_pending: vec![],
            global_applied: vec![],
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

pub async fn observe_trail(
    cloud: &dyn Cloud,
    region: &str,
    name: &str,
) -> Result<TrailObserved, EngineError> {
    match cloud.trail_get(region, name).await? {
        None => Ok(TrailObserved::Missing(name.to_string())),
        Some(info) => {
            let selectors = cloud
                .trail_get_selectors(&info.home_region, &info.arn)
                .await?;
            Ok(TrailObserved::Found { info, selectors })
        }
    }
}

pub struct RegionOutcome {
    pub desired: RegionDesired,
    pub observed: Option<RegionObserved>,
    pub pending: Vec<String>,
    pub applied: Vec<String>,
    pub error: Option<EngineError>,
    pub key_arn: Option<String>,
}

pub struct AssembleInputs<'a> {
    pub input: &'a PolicyInput<'a>,
    pub account: String,
    pub works: Vec<RegionOutcome>,
    pub role_observed: Option<RoleObserved>,
    pub role_error: Option<EngineError>,
    pub trail_observed: Option<TrailObserved>,
    pub trail_error: Option<EngineError>,
    pub global_planned: Vec<String>,
    pub global_applied: Vec<String>,
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

pub fn assemble(a: AssembleInputs<'_>) -> PolicyReport {
    let spec = a.input.spec;
    let global_error = a.role_error.clone().or(a.trail_error.clone());
    let mut regions = Vec::new();
    for region in &spec.regions {
        if let Some(owner) = a.input.conflicts.get(region) {
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
            });
            continue;
        }
        let Some(w) = a.works.iter().find(|w| &w.desired.region == region) else {
            continue;
        };
        let d = &w.desired;
        let findings = match &w.observed {
            Some(o) => findings::evaluate(&FindingInputs {
                desired: d,
                observed: o,
                role: a.role_observed.as_ref(),
                trail: a.trail_observed.as_ref(),
            }),
            None => vec![],
        };
        // A role or trail failure concerns every region that depends on it.
        let error = w
            .error
            .clone()
            .or_else(|| match (&a.role_error, &d.role) {
                (Some(e), Some(_)) => Some(e.clone()),
                _ => None,
            })
            .or_else(|| match (&a.trail_error, d.trail_events.is_empty()) {
                (Some(e), false) => Some(e.clone()),
                _ => None,
            });
        // Global changes (role, trail) still pending keep the regions that depend on them open.
        let depends_on_global = d.role.is_some() || !d.trail_events.is_empty();
        let pending = !w.pending.is_empty() || (depends_on_global && !a.global_planned.is_empty());
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
            pending: w.pending.clone(),
            applied: w.applied.clone(),
            error,
            resources: Resources {
                kms_key_arn: w.key_arn.clone(),
                bucket_arn: d.bucket_arn(),
                large_data_bucket_arn: d.large_bucket_arn(),
                log_group_arn: d.log_group_arn(),
                role_arn: d.role.as_ref().map(|r| r.arn().to_string()),
            },
        });
    }
    PolicyReport {
        policy: a.input.name.to_string(),
        mode: spec.mode,
        account_id: Some(a.account),
        global_error,
        regions,
        global_pending: a.global_planned,
        global_applied: a.global_applied,
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
