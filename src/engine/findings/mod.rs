//! Compliance findings: strict versions of Prowler's Bedrock checks plus the controls that make
//! the logs trustworthy. Pure: computed from desired + observed state.

use serde::Serialize;

mod access;
mod checks;
mod encryption;
mod logging;

use access::{bucket_checks, confused_deputy};
pub use checks::*;
use encryption::{encryption, key_policy_context, rotation};
use logging::{cloudtrail, logging_enabled, retention, text_data};

use super::change::KeyRef;
use super::desired::{KeyDesired, RegionDesired, RoleDesired};
use super::judge::{self, TrustVerdict};
use super::observe::{BucketObserved, RegionObserved, RoleObserved};
use super::plan::{alias_of, key_ref, missing_key_statements};
use crate::api::{FindingResult, TrailDataEvent};
use crate::cloud::{BucketPresence, TrailInfo, TrailSelectors};
use crate::policy_doc::{bedrock_source_arn, parse_document};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    pub status: FindingResult,
    pub message: String,
}

impl Finding {
    /// A failure that makes the region non-compliant.
    pub fn blocks_compliance(&self) -> bool {
        self.status == FindingResult::Fail
    }
    /// The policy does not ask for this control: a failure is a warning.
    pub(super) fn advisory(mut self) -> Self {
        if self.status == FindingResult::Fail {
            self.status = FindingResult::Warn;
        }
        self
    }
}

pub(super) fn finding(
    id: &'static str,
    status: FindingResult,
    message: impl Into<String>,
) -> Finding {
    Finding {
        id,
        severity: check_def(id)
            .map(|c| c.severity)
            .unwrap_or(Severity::Medium),
        status,
        message: message.into(),
    }
}

pub(super) fn pass(id: &'static str, m: impl Into<String>) -> Finding {
    finding(id, FindingResult::Pass, m)
}
pub(super) fn fail(id: &'static str, m: impl Into<String>) -> Finding {
    finding(id, FindingResult::Fail, m)
}
pub(super) fn skip(id: &'static str, m: impl Into<String>) -> Finding {
    finding(id, FindingResult::Skip, m)
}

/// `spec.tamperResponse`: the queue and rule are in place (SKIP when not asked for).
fn tamper_response(d: &RegionDesired, o: &RegionObserved) -> Finding {
    let Some(t) = &d.tamper else {
        return skip(
            TAMPER_RESPONSE,
            "spec.tamperResponse is not set: drift is repaired at the next resync only",
        );
    };
    let seen = o.tamper.clone().unwrap_or_default();
    match super::tamper::wiring_gap(t, &seen) {
        None => pass(
            TAMPER_RESPONSE,
            format!(
                "EventBridge rule {} sends the tamper API calls to queue {} (SSE, admits only the rule)",
                t.rule, t.queue
            ),
        ),
        Some(gap) => fail(
            TAMPER_RESPONSE,
            format!(
                "{gap}: apply the policy (Enforce) to wire tamper response in {}",
                d.region
            ),
        ),
    }
}

/// What the policy observed of its CloudTrail trail (global, evaluated per region).
#[derive(Debug, Clone, PartialEq)]
pub enum TrailObserved {
    Missing(String),
    Found {
        info: TrailInfo,
        selectors: TrailSelectors,
        /// `GetTrailStatus.IsLogging`: a stopped trail records nothing.
        logging: bool,
    },
}

pub struct FindingInputs<'a> {
    pub desired: &'a RegionDesired,
    pub observed: &'a RegionObserved,
    pub role: Option<&'a RoleObserved>,
    pub trail: Option<&'a TrailObserved>,
}

pub fn evaluate(i: &FindingInputs<'_>) -> Vec<Finding> {
    let d = i.desired;
    let o = i.observed;
    let mut out = vec![
        logging_enabled(d, o),
        encryption(d, o),
        text_data(d, o),
        rotation(d, o),
    ];
    out.extend(bucket_checks(d, o));
    out.push(retention(d, o));
    out.push(confused_deputy(d, i.role));
    out.push(key_policy_context(d, o));
    out.push(cloudtrail(d, i.trail));
    out.push(tamper_response(d, o));
    if let Some(k) = o.key.as_ref().filter(|k| !k.extra_keys.is_empty()) {
        out.push(
            fail(
                SINGLE_KEY,
                format!(
                    "{} other key(s) in {} carry this policy's tag: {}; {} has the alias and is used. They were never deleted: schedule their deletion manually (kms schedule-key-deletion) once you have checked they encrypt nothing",
                    k.extra_keys.len(),
                    d.region,
                    k.extra_keys.join(", "),
                    k.info.arn
                ),
            )
            .advisory(),
        );
    }
    out
}
