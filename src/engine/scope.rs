//! One outcome per scope (a region, the delivery role, the trail): what was read, what remains
//! to change (re-planned after writing), what this pass changed, and the error that stopped it.

use super::Change;
use super::EngineError;
use super::desired::RegionDesired;
use super::findings::TrailObserved;
use super::observe::{RegionObserved, RoleObserved};
use super::plan::RegionPlan;

#[derive(Debug, Clone)]
pub struct ScopeOutcome<O, P> {
    pub observed: Option<O>,
    /// What still needs changing: planned, and re-planned after this pass wrote.
    pub plan: P,
    pub applied: Vec<String>,
    pub error: Option<EngineError>,
    /// A permission-relevant write happened in this scope this pass (role, key or bucket policy).
    pub changed_permissions: bool,
}

impl<O, P: Default> Default for ScopeOutcome<O, P> {
    fn default() -> Self {
        ScopeOutcome {
            observed: None,
            plan: P::default(),
            applied: vec![],
            error: None,
            changed_permissions: false,
        }
    }
}

impl<O, P: Default> ScopeOutcome<O, P> {
    pub fn failed(error: EngineError) -> Self {
        ScopeOutcome {
            error: Some(error),
            ..Default::default()
        }
    }
}

pub type RoleOutcome = ScopeOutcome<RoleObserved, Vec<Change>>;
pub type TrailOutcome = ScopeOutcome<TrailObserved, Vec<Change>>;

/// One region through the pipeline.
#[derive(Debug, Clone)]
pub struct RegionWork {
    pub desired: RegionDesired,
    pub key_arn: Option<String>,
    pub scope: ScopeOutcome<RegionObserved, RegionPlan>,
}

impl RegionWork {
    pub fn new(desired: RegionDesired) -> Self {
        RegionWork {
            desired,
            key_arn: None,
            scope: ScopeOutcome::default(),
        }
    }
}

/// Whether a change alters what Bedrock's put-time permission check depends on.
pub fn affects_permissions(c: &Change) -> bool {
    matches!(
        c,
        Change::CreateKey { .. }
            | Change::PutKeyPolicy { .. }
            | Change::PutBucketPolicy { .. }
            | Change::CreateRole { .. }
            | Change::UpdateTrust { .. }
            | Change::PutRolePolicy { .. }
    )
}
