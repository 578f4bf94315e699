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
