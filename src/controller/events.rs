//! Which Kubernetes Events a pass deserves: one per change made, drift corrected or detected,
//! and one per distinct error (not one per reconcile). Pure.

use crate::api::{BedrockLoggingPolicyStatus, RegionState};
use crate::engine::PolicyReport;

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedEvent {
    pub warning: bool,
    pub reason: &'static str,
    pub action: &'static str,
    pub note: String,
}

fn truncate(s: String) -> String {
    if s.len() <= 1000 {
        return s;
    }
    let mut end = 997;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

pub fn events_for(
    report: &PolicyReport,
    previous: Option<&BedrockLoggingPolicyStatus>,
) -> Vec<PlannedEvent> {
    let prev_region = |r: &str| previous.and_then(|p| p.regions.iter().find(|x| x.region == r));
    let mut out = Vec::new();
    for c in &report.global_applied {
        out.push(PlannedEvent {
            warning: false,
            reason: "Changed",
            action: "Converge",
            note: truncate(c.clone()),
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
                action: "Converge",
                note: truncate(e.to_string()),
            });
        }
    }
    for r in &report.regions {
        let prev = prev_region(&r.region);
        let was_compliant = prev.is_some_and(|p| p.state == RegionState::Compliant);
        for c in &r.applied {
            out.push(PlannedEvent {
                warning: false,
                reason: if was_compliant {
                    "DriftCorrected"
                } else {
                    "Changed"
                },
                action: "Converge",
                note: truncate(format!("{}: {c}", r.region)),
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
                    action: "Converge",
                    note: truncate(format!("{}: {msg}", r.region)),
                });
            }
        }
        if r.state == RegionState::Drifted && !prev.is_some_and(|p| p.state == RegionState::Drifted)
        {
            out.push(PlannedEvent {
                warning: true,
                reason: "DriftDetected",
                action: "Audit",
                note: truncate(format!("{}: {}", r.region, r.message())),
            });
        }
    }
    out
}
