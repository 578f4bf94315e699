//! Build the `BedrockLoggingPolicy` status from a report: per-region status, kstatus conditions
//! (Ready / Reconciling / Stalled) with `lastTransitionTime` kept when a condition's status does
//! not change. Pure: the clock is passed in.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use super::PolicyReport;
use crate::api::{
    BedrockLoggingPolicyStatus, FindingStatus, MAX_CHANGES_PER_REGION, MAX_FINDINGS_PER_REGION,
    RegionState, RegionStatus,
};

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";

/// The policy-level verdict the conditions are computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub ready: bool,
    pub ready_reason: &'static str,
    pub message: String,
    pub reconciling: Option<(&'static str, String)>,
    pub stalled: Option<(&'static str, String)>,
}

/// Decide Ready / Reconciling / Stalled from a report.
pub fn verdict(report: &PolicyReport) -> Verdict {
    let total = report.regions.len();
    let compliant = report.compliant_regions();
    let summary = format!("{compliant}/{total} regions compliant");
    // Terminal errors first: they need a human.
    let terminal = report
        .global_error
        .iter()
        .chain(report.regions.iter().filter_map(|r| r.error.as_ref()))
        .find_map(|e| e.stalled_reason().map(|reason| (reason, e.to_string())));
    let transient = report
        .global_error
        .iter()
        .chain(report.regions.iter().filter_map(|r| r.error.as_ref()))
        .find(|e| e.stalled_reason().is_none())
        .map(|e| e.to_string());
    let converging = report
        .regions
        .iter()
        .any(|r| r.state == RegionState::Converging);
    let reconciling = match (&transient, converging) {
        (Some(msg), _) => Some(("RetryingAfterError", format!("{summary}; retrying: {msg}"))),
        (None, true) => Some((
            "Converging",
            format!("{summary}; waiting for AWS to reflect the changes"),
        )),
        _ => None,
    };
    let all = compliant == total && report.global_error.is_none();
    let (ready_reason, message) = if all {
        ("Compliant", summary.clone())
    } else if let Some((reason, msg)) = &terminal {
        (*reason, format!("{summary}; {msg}"))
    } else if reconciling.is_some() {
        ("Converging", summary.clone())
    } else {
        let failing: Vec<String> = report
            .regions
            .iter()
            .filter(|r| r.state != RegionState::Compliant)
            .map(|r| format!("{}: {}", r.region, r.message()))
            .collect();
        ("NonCompliant", format!("{summary}; {}", failing.join("; ")))
    };
    Verdict {
        ready: all,
        ready_reason,
        message,
        reconciling,
        stalled: terminal,
    }
}

fn condition(
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: &Time,
    previous: &[Condition],
) -> Condition {
    let status_str = if status { "True" } else { "False" };
    let last = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status_str)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    Condition {
        type_: type_.to_string(),
        status: status_str.to_string(),
        reason: reason.to_string(),
        message: truncate(message, 1024),
        observed_generation: generation,
        last_transition_time: last,
    }
}

use crate::truncate;

pub fn conditions(
    v: &Verdict,
    generation: Option<i64>,
    now: &Time,
    previous: &[Condition],
) -> Vec<Condition> {
    let (rec, rec_reason, rec_msg) = match &v.reconciling {
        Some((r, m)) => (true, *r, m.clone()),
        None => (false, "Idle", "nothing to converge".to_string()),
    };
    let (stalled, st_reason, st_msg) = match &v.stalled {
        Some((r, m)) => (true, *r, m.clone()),
        None => (false, "Progressing", "no terminal error".to_string()),
    };
    vec![
        condition(
            READY,
            v.ready,
            v.ready_reason,
            &v.message,
            generation,
            now,
            previous,
        ),
        condition(
            RECONCILING,
            rec,
            rec_reason,
            &rec_msg,
            generation,
            now,
            previous,
        ),
        condition(
            STALLED, stalled, st_reason, &st_msg, generation, now, previous,
        ),
    ]
}

/// The full status for a report.
pub fn build_status(
    report: &PolicyReport,
    generation: Option<i64>,
    now: Timestamp,
    previous: Option<&BedrockLoggingPolicyStatus>,
) -> BedrockLoggingPolicyStatus {
    let now_time = Time(now);
    let v = verdict(report);
    let prev_conditions = previous.map(|p| p.conditions.as_slice()).unwrap_or(&[]);
    let sync = now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let regions = report
        .regions
        .iter()
        .map(|r| {
            let prev_region =
                previous.and_then(|p| p.regions.iter().find(|x| x.region == r.region));
            // Keep the previous pass's change list until a pass changes something again.
            let last_changes = if r.applied.is_empty() {
                prev_region
                    .map(|p| p.last_changes.clone())
                    .unwrap_or_default()
            } else {
                r.applied
                    .iter()
                    .take(MAX_CHANGES_PER_REGION)
                    .cloned()
                    .collect()
            };
            RegionStatus {
                region: r.region.clone(),
                state: r.state,
                message: Some(truncate(&r.message(), 1024)),
                kms_key_arn: r.resources.kms_key_arn.clone(),
                bucket_arn: r.resources.bucket_arn.clone(),
                large_data_bucket_arn: r.resources.large_data_bucket_arn.clone(),
                log_group_arn: r.resources.log_group_arn.clone(),
                role_arn: r.resources.role_arn.clone(),
                findings: r
                    .findings
                    .iter()
                    .take(MAX_FINDINGS_PER_REGION)
                    .map(|f| FindingStatus {
                        check: f.id.to_string(),
                        status: f.status,
                        severity: Some(f.severity.as_str().to_string()),
                        message: Some(truncate(&f.message, 512)),
                    })
                    .collect(),
                last_changes,
                last_sync_time: Some(sync.clone()),
                last_tamper: r
                    .last_tamper
                    .clone()
                    .or_else(|| prev_region.and_then(|p| p.last_tamper.clone())),
            }
        })
        .collect::<Vec<_>>();
    let compliant = report.compliant_regions() as u32;
    let total = report.regions.len() as u32;
    BedrockLoggingPolicyStatus {
        observed_generation: generation,
        account_id: report.account_id.clone(),
        compliant_regions: compliant,
        total_regions: total,
        region_summary: Some(format!("{compliant}/{total}")),
        conditions: conditions(&v, generation, &now_time, prev_conditions),
        regions,
        accounts: None,
        non_compliant_accounts: vec![],
        shards: vec![],
    }
}

/// True when two statuses differ in anything but sync timestamps (no write, no churn).
pub fn materially_equal(a: &BedrockLoggingPolicyStatus, b: &BedrockLoggingPolicyStatus) -> bool {
    let strip = |s: &BedrockLoggingPolicyStatus| {
        let mut s = s.clone();
        for r in &mut s.regions {
            r.last_sync_time = None;
        }
        s
    };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Time {
        Time(Timestamp::from_second(s).unwrap())
    }

    fn verdict_ready(ready: bool) -> Verdict {
        Verdict {
            ready,
            ready_reason: if ready { "Compliant" } else { "NonCompliant" },
            message: "m".into(),
            reconciling: None,
            stalled: None,
        }
    }

    #[test]
    fn transition_time_kept_while_status_unchanged_and_moved_on_change() {
        let first = conditions(&verdict_ready(false), Some(1), &t(100), &[]);
        assert!(first.iter().all(|c| c.last_transition_time == t(100)));
        let same = conditions(&verdict_ready(false), Some(2), &t(200), &first);
        assert!(
            same.iter().all(|c| c.last_transition_time == t(100)),
            "no churn when nothing changed"
        );
        let flipped = conditions(&verdict_ready(true), Some(2), &t(300), &same);
        let ready = flipped.iter().find(|c| c.type_ == READY).unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.last_transition_time.clone()),
            ("True", t(300))
        );
        let stalled = flipped.iter().find(|c| c.type_ == STALLED).unwrap();
        assert_eq!(stalled.last_transition_time, t(100), "Stalled stayed False");
    }

    #[test]
    fn kstatus_condition_polarity() {
        let v = Verdict {
            ready: false,
            ready_reason: "AccessDenied",
            message: "m".into(),
            reconciling: Some(("RetryingAfterError", "x".into())),
            stalled: Some(("AccessDenied", "denied".into())),
        };
        let c = conditions(&v, Some(1), &t(1), &[]);
        let get = |ty: &str| c.iter().find(|x| x.type_ == ty).unwrap().status.clone();
        assert_eq!(
            (get(READY), get(RECONCILING), get(STALLED)),
            ("False".into(), "True".into(), "True".into())
        );
        assert!(c.iter().all(|x| x.observed_generation == Some(1)));
    }

    #[test]
    fn the_last_tamper_event_is_kept_until_a_newer_one_and_counts_as_material() {
        use crate::api::{Mode, RegionState, TamperRecord};
        use crate::engine::{PolicyReport, RegionReport, Resources};
        let region = |last: Option<TamperRecord>| RegionReport {
            region: "us-east-1".into(),
            state: RegionState::Compliant,
            findings: vec![],
            pending: vec![],
            applied: vec![],
            error: None,
            resources: Resources::default(),
            tamper_watch: None,
            last_tamper: last,
        };
        let report = |last| PolicyReport {
            policy: "p".into(),
            mode: Mode::Enforce,
            account_id: Some("123456789012".into()),
            global_error: None,
            regions: vec![region(last)],
            global_pending: vec![],
            global_applied: vec![],
            permissions_changed: false,
            regions_gone: vec![],
        };
        let at = |s| Timestamp::from_second(s).unwrap();
        let mallory = TamperRecord {
            actor: "arn:aws:iam::123456789012:user/mallory".into(),
            event: "bedrock.amazonaws.com:DeleteModelInvocationLoggingConfiguration".into(),
            time: "2026-12-01T10:00:00Z".into(),
        };
        let first = build_status(&report(Some(mallory.clone())), Some(1), at(100), None);
        assert_eq!(first.regions[0].last_tamper, Some(mallory.clone()));
        let quiet = build_status(&report(None), Some(1), at(200), Some(&first));
        assert_eq!(quiet.regions[0].last_tamper, Some(mallory.clone()), "kept");
        assert!(materially_equal(&first, &quiet));
        let eve = TamperRecord {
            actor: "arn:aws:iam::123456789012:user/eve".into(),
            ..mallory
        };
        let newer = build_status(&report(Some(eve.clone())), Some(1), at(300), Some(&quiet));
        assert_eq!(newer.regions[0].last_tamper, Some(eve));
        assert!(
            !materially_equal(&quiet, &newer),
            "a new tamper event is written"
        );
    }
}
