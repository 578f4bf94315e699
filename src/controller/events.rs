//! Which Kubernetes Events a pass deserves: one per scope (a region, or the global IAM part)
//! that a pass changed, its note listing every change (`status.regions[].lastChanges` keeps them
//! one by one); one per drift detected; one per distinct error (not one per reconcile). Pure.
//!
//! One event per scope, not per change: kube's recorder keeps every event it published for six
//! minutes (to fold repeats into a series), and a first pass over 100 policies × 4 regions made
//! ~3,600 of them (~7 MiB of the controller's heap, hack/profile-heap.sh); per scope it is ~400.

use crate::api::{BedrockLoggingPolicyStatus, RegionState};
use crate::engine::PolicyReport;

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedEvent {
    pub warning: bool,
    pub reason: &'static str,
    /// Distinct per change: kube's recorder folds events with the same reason and action into
    /// one series (keeping the first note), so the action carries the scope and a fingerprint.
    pub action: String,
    pub note: String,
}

fn action(verb: &str, scope: &str, note: &str) -> String {
    format!("{verb}/{scope}/{:08x}", crate::policy_doc::fnv1a32(note))
}

fn truncate(s: String) -> String {
    crate::truncate(&s, 1000)
}

pub fn events_for(
    report: &PolicyReport,
    previous: Option<&BedrockLoggingPolicyStatus>,
) -> Vec<PlannedEvent> {
    let prev_region = |r: &str| previous.and_then(|p| p.regions.iter().find(|x| x.region == r));
    let mut out = Vec::new();
    if !report.global_applied.is_empty() {
        let changes = report.global_applied.join("; ");
        out.push(PlannedEvent {
            warning: false,
            reason: "Changed",
            action: action("Converge", "global", &changes),
            note: truncate(changes),
        });
    }
    if let Some(e) = &report.global_error {
        let before = previous
            .and_then(|p| p.conditions.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.message.clone())
            .unwrap_or_default();
        if !before.contains(&e.to_string()) {
            out.push(PlannedEvent {
                warning: true,
                reason: "ReconcileError",
                action: action("Converge", "global", &e.to_string()),
                note: truncate(e.to_string()),
            });
        }
    }
    for r in &report.regions {
        let prev = prev_region(&r.region);
        let was_compliant = prev.is_some_and(|p| p.state == RegionState::Compliant);
        if !r.applied.is_empty() {
            let changes = r.applied.join("; ");
            out.push(PlannedEvent {
                warning: false,
                reason: if was_compliant {
                    "DriftCorrected"
                } else {
                    "Changed"
                },
                action: action("Converge", &r.region, &changes),
                note: truncate(format!("{}: {changes}", r.region)),
            });
        }
        if let Some(e) = &r.error {
            let msg = e.to_string();
            let same_as_before = prev.and_then(|p| p.message.as_deref()) == Some(msg.as_str());
            let global_dup = report
                .global_error
                .as_ref()
                .is_some_and(|g| g.to_string() == msg);
            if !same_as_before && !global_dup {
                out.push(PlannedEvent {
                    warning: true,
                    reason: if r.state == RegionState::Conflict {
                        "Conflict"
                    } else {
                        "ReconcileError"
                    },
                    action: action("Converge", &r.region, &msg),
                    note: truncate(format!("{}: {msg}", r.region)),
                });
            }
        }
        // Duplicate keys from a lost CreateKey response: never deleted, so a human must act.
        if let Some(f) = r
            .findings
            .iter()
            .find(|f| f.id == crate::engine::findings::SINGLE_KEY)
        {
            out.push(PlannedEvent {
                warning: true,
                reason: "DuplicateKeys",
                action: action("Converge", &r.region, &f.message),
                note: truncate(format!("{}: {}", r.region, f.message)),
            });
        }
        if r.state == RegionState::Drifted && !prev.is_some_and(|p| p.state == RegionState::Drifted)
        {
            out.push(PlannedEvent {
                warning: true,
                reason: "DriftDetected",
                action: action("Audit", &r.region, "drift"),
                note: truncate(format!("{}: {}", r.region, r.message())),
            });
        }
    }
    // allRegions: a region discovery no longer lists (disabled, or Bedrock withdrawn).
    for region in &report.regions_gone {
        out.push(PlannedEvent {
            warning: true,
            reason: "RegionRemoved",
            action: action("Discover", region, "gone"),
            note: truncate(format!(
                "{region} is no longer enabled in the account or no longer offers Bedrock: it is no longer governed; its logging configuration and destinations were left as they are"
            )),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_changes_get_distinct_event_keys() {
        let a = action("Converge", "us-east-1", "bucket b created");
        let b = action(
            "Converge",
            "us-east-1",
            "bucket b policy statement AmazonBedrockLogsWrite added",
        );
        let c = action("Converge", "eu-west-1", "bucket b created");
        assert!(a != b && a != c && b != c);
        assert_eq!(
            a,
            action("Converge", "us-east-1", "bucket b created"),
            "a repeated change folds into one series"
        );
        assert!(a.len() <= 128);
    }

    fn region(name: &str, state: RegionState, applied: &[&str]) -> crate::engine::RegionReport {
        crate::engine::RegionReport {
            region: name.into(),
            state,
            findings: vec![],
            pending: vec![],
            applied: applied.iter().map(|s| s.to_string()).collect(),
            error: None,
            resources: Default::default(),
            tamper_watch: None,
            last_tamper: None,
        }
    }

    #[test]
    fn one_event_per_changed_scope_listing_every_change() {
        let mut report = PolicyReport::empty("p", crate::api::Mode::Enforce);
        report.global_applied = vec!["role r created".into(), "role r policy put".into()];
        report.regions = vec![
            region(
                "us-east-1",
                RegionState::Compliant,
                &["key k created", "bucket b created", "logging enabled"],
            ),
            region("eu-west-1", RegionState::Compliant, &[]),
            region("us-west-2", RegionState::Compliant, &["logging enabled"]),
        ];
        let events = events_for(&report, None);
        let notes: Vec<_> = events.iter().map(|e| (e.reason, e.note.as_str())).collect();
        assert_eq!(
            notes,
            vec![
                ("Changed", "role r created; role r policy put"),
                (
                    "Changed",
                    "us-east-1: key k created; bucket b created; logging enabled"
                ),
                ("Changed", "us-west-2: logging enabled"),
            ]
        );
        let mut actions: Vec<_> = events.iter().map(|e| e.action.clone()).collect();
        actions.dedup();
        assert_eq!(actions.len(), 3, "distinct scopes, distinct series");
    }

    #[test]
    fn many_changes_stay_within_the_note_limit() {
        let mut report = PolicyReport::empty("p", crate::api::Mode::Enforce);
        let long: Vec<String> = (0..40)
            .map(|i| format!("bucket policy statement number {i} of a long list rewritten"))
            .collect();
        let refs: Vec<&str> = long.iter().map(String::as_str).collect();
        report.regions = vec![region("us-east-1", RegionState::Compliant, &refs)];
        let events = events_for(&report, None);
        assert_eq!(events.len(), 1);
        assert!(events[0].note.len() <= 1000, "{}", events[0].note.len());
        assert!(
            events[0]
                .note
                .starts_with("us-east-1: bucket policy statement number 0")
        );
    }
}
