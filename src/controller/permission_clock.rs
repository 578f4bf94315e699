//! The permission-propagation window of each policy, across passes.

use std::time::Instant;

use crate::cloud::ErrorKind;
use crate::engine::phases::PROPAGATION_WINDOW;
use crate::engine::{EngineError, PolicyReport};

/// The permission-propagation window of one policy: Bedrock's "Failed to validate permissions"
/// is retried while it is recent (since the operator's last permission change, or since the
/// error was first seen), and is terminal after [`PROPAGATION_WINDOW`].
#[derive(Debug, Clone, Copy, Default)]
pub struct PermissionClock {
    pub last_change: Option<Instant>,
    pub first_error: Option<Instant>,
}

impl PermissionClock {
    pub fn grace(&self, now: Instant) -> bool {
        match self.last_change.max(self.first_error) {
            None => true,
            Some(t) => now.duration_since(t) < PROPAGATION_WINDOW,
        }
    }

    /// Record what a pass saw.
    pub fn update(&mut self, report: &PolicyReport, now: Instant) {
        if report.permissions_changed {
            self.last_change = Some(now);
        }
        let propagation_error = report
            .regions
            .iter()
            .filter_map(|r| r.error.as_ref())
            .any(|e| {
                matches!(e, EngineError::Cloud(c) if c.kind == ErrorKind::PermissionPropagation)
                    || matches!(e, EngineError::DestinationAccess { .. })
            });
        if !propagation_error {
            self.first_error = None;
        } else if self.first_error.is_none() {
            self.first_error = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn report(changed: bool, propagating: bool) -> PolicyReport {
        let error = propagating.then(|| {
            EngineError::Cloud(crate::cloud::CloudError::new(
                ErrorKind::PermissionPropagation,
                "bedrock",
                "PutModelInvocationLoggingConfiguration",
                "Failed to validate permissions",
            ))
        });
        PolicyReport {
            policy: "p".into(),
            mode: crate::api::Mode::Enforce,
            account_id: None,
            global_error: None,
            regions: vec![crate::engine::RegionReport {
                region: "us-east-1".into(),
                state: crate::api::RegionState::Error,
                findings: vec![],
                pending: vec![],
                applied: vec![],
                error,
                resources: Default::default(),
                tamper_watch: None,
                last_tamper: None,
            }],
            global_pending: vec![],
            global_applied: vec![],
            permissions_changed: changed,
            regions_gone: vec![],
        }
    }

    /// The window opens at the operator's last permission change or at the first sighting of
    /// the error, and closes 2 minutes later; a clean pass forgets the error.
    #[test]
    fn the_window_follows_changes_and_first_sightings() {
        let t0 = Instant::now();
        let mut c = PermissionClock::default();
        assert!(c.grace(t0), "nothing seen yet");
        c.update(&report(true, true), t0);
        assert!(c.grace(t0 + Duration::from_secs(119)));
        assert!(
            !c.grace(t0 + Duration::from_secs(121)),
            "2 minutes after the change"
        );
        // A new change reopens it.
        c.update(&report(true, true), t0 + Duration::from_secs(200));
        assert!(c.grace(t0 + Duration::from_secs(300)));
        // A clean pass forgets the error; the next sighting starts a new window.
        c.update(&report(false, false), t0 + Duration::from_secs(400));
        assert!(c.first_error.is_none());
        c.update(&report(false, true), t0 + Duration::from_secs(500));
        assert!(c.grace(t0 + Duration::from_secs(600)));
        assert!(!c.grace(t0 + Duration::from_secs(621)));
    }
}
