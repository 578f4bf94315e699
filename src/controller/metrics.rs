//! Prometheus metrics (text format on `/metrics`). Every label set is bounded: results,
//! services, operations and outcomes are fixed enums; `policy` is bounded by the policies.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::cloud::sdk::CallObserver;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub service: &'static str,
    pub operation: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyLabels {
    pub policy: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckLabels {
    pub policy: String,
    pub region: String,
    /// A compliance check id (a fixed, compiled-in set).
    pub check: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RegionLabels {
    pub policy: String,
    pub account: String,
    pub region: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TamperLabels {
    pub policy: String,
    pub region: String,
    /// The event name, one of the calls treated as tampering (a fixed set), or "other".
    pub event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VersionLabels {
    pub version: &'static str,
}

/// The per-check and per-region label sets of one policy.
type PolicySeries = (Vec<CheckLabels>, Vec<RegionLabels>);

pub struct Metrics {
    pub registry: Registry,
    pub reconciles: Family<ResultLabels, Counter>,
    pub reconcile_duration: Histogram,
    pub aws_calls: Family<CallLabels, Counter>,
    pub drift_corrections: Family<PolicyLabels, Counter>,
    pub compliant_regions: Family<PolicyLabels, Gauge>,
    pub total_regions: Family<PolicyLabels, Gauge>,
    pub check_passing: Family<CheckLabels, Gauge>,
    pub region_compliant: Family<RegionLabels, Gauge>,
    pub tamper_events: Family<TamperLabels, Counter>,
    pub policy_ready: Family<PolicyLabels, Gauge>,
    pub build_info: Family<VersionLabels, Gauge>,
    /// The per-region and per-check series each policy has, so they go with the policy.
    series: std::sync::Mutex<std::collections::HashMap<String, PolicySeries>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("bedrock_logging");
        let reconciles = Family::<ResultLabels, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciles by result (compliant, not_compliant, error, deleted)",
            reconciles.clone(),
        );
        let reconcile_duration = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        registry.register(
            "reconcile_duration_seconds",
            "Duration of one reconcile",
            reconcile_duration.clone(),
        );
        let aws_calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "aws_calls",
            "AWS API calls by service, operation and outcome",
            aws_calls.clone(),
        );
        let drift_corrections = Family::<PolicyLabels, Counter>::default();
        registry.register(
            "drift_corrections",
            "Changes made to regions that were compliant before (out-of-band drift corrected)",
            drift_corrections.clone(),
        );
        let compliant_regions = Family::<PolicyLabels, Gauge>::default();
        registry.register(
            "compliant_regions",
            "Compliant regions per policy",
            compliant_regions.clone(),
        );
        let total_regions = Family::<PolicyLabels, Gauge>::default();
        registry.register("regions", "Regions per policy", total_regions.clone());
        let check_passing = Family::<CheckLabels, Gauge>::default();
        registry.register(
            "check_passing",
            "1 while a compliance check passes (or is not failing) in a region of a policy, 0 while it fails",
            check_passing.clone(),
        );
        let region_compliant = Family::<RegionLabels, Gauge>::default();
        registry.register(
            "region_compliant",
            "1 while a region of a governed account is compliant with the policy, 0 otherwise",
            region_compliant.clone(),
        );
        let tamper_events = Family::<TamperLabels, Counter>::default();
        registry.register(
            "tamper_events",
            "Tamper events seen (API calls that undo the policy), by policy, region and event",
            tamper_events.clone(),
        );
        let policy_ready = Family::<PolicyLabels, Gauge>::default();
        registry.register(
            "policy_ready",
            "1 while the policy's Ready condition is True, 0 otherwise",
            policy_ready.clone(),
        );
        let build_info = Family::<VersionLabels, Gauge>::default();
        registry.register(
            "build_info",
            "Always 1: the version of the running operator",
            build_info.clone(),
        );
        build_info
            .get_or_create(&VersionLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        Metrics {
            registry,
            reconciles,
            reconcile_duration,
            aws_calls,
            drift_corrections,
            compliant_regions,
            total_regions,
            check_passing,
            region_compliant,
            tamper_events,
            policy_ready,
            build_info,
            series: Default::default(),
        }
    }
}

impl Metrics {
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    pub fn forget_policy(&self, policy: &str) {
        let l = PolicyLabels {
            policy: policy.to_string(),
        };
        self.compliant_regions.remove(&l);
        self.total_regions.remove(&l);
        self.drift_corrections.remove(&l);
        self.policy_ready.remove(&l);
        self.replace_series(policy, vec![], vec![]);
    }

    /// Set the per-check and per-region gauges of a policy from its latest report; series of
    /// regions or checks it no longer has are removed.
    pub fn record_compliance(&self, report: &crate::engine::PolicyReport, ready: bool) {
        self.record_members(&report.policy, std::slice::from_ref(report), ready);
    }

    /// [`Self::record_compliance`] over the member accounts of an organization policy: one
    /// region series per account and region; a check passes in a region when it passes in
    /// every account.
    pub fn record_members(
        &self,
        policy: &str,
        reports: &[crate::engine::PolicyReport],
        ready: bool,
    ) {
        let mut checks: std::collections::BTreeMap<(String, &'static str), bool> =
            Default::default();
        let mut regions = Vec::new();
        for report in reports {
            let account = report.account_id.clone().unwrap_or_default();
            for r in &report.regions {
                let rl = RegionLabels {
                    policy: policy.to_string(),
                    account: account.clone(),
                    region: r.region.clone(),
                };
                self.region_compliant
                    .get_or_create(&rl)
                    .set(i64::from(r.state == crate::api::RegionState::Compliant));
                regions.push(rl);
                for f in &r.findings {
                    let pass = f.status != crate::api::FindingResult::Fail;
                    checks
                        .entry((r.region.clone(), f.id))
                        .and_modify(|p| *p &= pass)
                        .or_insert(pass);
                }
            }
        }
        let checks: Vec<CheckLabels> = checks
            .into_iter()
            .map(|((region, check), pass)| {
                let cl = CheckLabels {
                    policy: policy.to_string(),
                    region,
                    check,
                };
                self.check_passing.get_or_create(&cl).set(i64::from(pass));
                cl
            })
            .collect();
        self.policy_ready
            .get_or_create(&PolicyLabels {
                policy: policy.to_string(),
            })
            .set(i64::from(ready));
        self.replace_series(policy, checks, regions);
    }

    /// What every pass records besides the per-series gauges: the policy's region totals, the
    /// drift it corrected and one reconcile result over its account reports.
    pub fn record_pass(
        &self,
        policy: &str,
        reports: &[crate::engine::PolicyReport],
        (compliant_regions, total_regions): (i64, i64),
        drift: u64,
    ) {
        let labels = PolicyLabels {
            policy: policy.to_string(),
        };
        self.compliant_regions
            .get_or_create(&labels)
            .set(compliant_regions);
        self.total_regions.get_or_create(&labels).set(total_regions);
        if drift > 0 {
            self.drift_corrections.get_or_create(&labels).inc_by(drift);
        }
        let result = if reports.iter().all(|r| r.all_compliant()) {
            "compliant"
        } else if reports.iter().any(|r| r.has_errors()) {
            "error"
        } else {
            "not_compliant"
        };
        self.reconciles
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    fn replace_series(&self, policy: &str, checks: Vec<CheckLabels>, regions: Vec<RegionLabels>) {
        let mut map = self.series.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((old_checks, old_regions)) = map.remove(policy) {
            for c in old_checks.iter().filter(|c| !checks.contains(c)) {
                self.check_passing.remove(c);
            }
            for r in old_regions.iter().filter(|r| !regions.contains(r)) {
                self.region_compliant.remove(r);
            }
        }
        if !checks.is_empty() || !regions.is_empty() {
            map.insert(policy.to_string(), (checks, regions));
        }
    }
}

/// Feeds AWS call outcomes from the SDK boundary into the metrics.
pub struct MetricsObserver(pub Arc<Metrics>);

impl CallObserver for MetricsObserver {
    fn observe(&self, service: &'static str, operation: &'static str, outcome: &'static str) {
        self.0
            .aws_calls
            .get_or_create(&CallLabels {
                service,
                operation,
                outcome,
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/metrics.txt (what the dashboard and alerts may name) equals the families of a scrape.
    #[test]
    fn the_documented_families_are_exactly_the_exported_ones() {
        // A family shows in a scrape once it has a series: give each one, as a running
        // controller does after its first pass (and its first tamper event).
        let m = Metrics::default();
        m.reconciles
            .get_or_create(&ResultLabels {
                result: "compliant",
            })
            .inc();
        m.reconcile_duration.observe(0.1);
        MetricsObserver(Arc::new(Metrics::default())).observe("s3", "GetBucketPolicy", "ok");
        m.aws_calls
            .get_or_create(&CallLabels {
                service: "s3",
                operation: "GetBucketPolicy",
                outcome: "ok",
            })
            .inc();
        let p = PolicyLabels { policy: "p".into() };
        m.drift_corrections.get_or_create(&p).inc();
        m.compliant_regions.get_or_create(&p).set(1);
        m.total_regions.get_or_create(&p).set(1);
        m.tamper_events
            .get_or_create(&TamperLabels {
                policy: "p".into(),
                region: "us-east-1".into(),
                event: "DeleteModelInvocationLoggingConfiguration",
            })
            .inc();
        let report = crate::engine::PolicyReport {
            policy: "p".into(),
            mode: crate::api::Mode::Enforce,
            account_id: Some("123456789012".into()),
            global_error: None,
            regions: vec![crate::engine::RegionReport {
                region: "us-east-1".into(),
                state: crate::api::RegionState::Compliant,
                findings: vec![crate::engine::Finding {
                    id: crate::engine::findings::LOGGING_ENABLED,
                    severity: crate::engine::findings::Severity::High,
                    status: crate::api::FindingResult::Pass,
                    message: String::new(),
                }],
                pending: vec![],
                applied: vec![],
                error: None,
                resources: Default::default(),
                tamper_watch: None,
                last_tamper: None,
            }],
            global_pending: vec![],
            global_applied: vec![],
            permissions_changed: false,
            regions_gone: vec![],
        };
        m.record_compliance(&report, true);
        let text = m.encode();
        assert!(text.contains(
            "bedrock_logging_check_passing{policy=\"p\",region=\"us-east-1\",check=\"bedrock_model_invocation_logging_enabled\"} 1"
        ), "{text}");
        assert!(text.contains(
            "bedrock_logging_region_compliant{policy=\"p\",account=\"123456789012\",region=\"us-east-1\"} 1"
        ), "{text}");
        // A deleted policy's series go with it.
        m.forget_policy("p");
        assert!(
            !m.encode().contains("bedrock_logging_check_passing{"),
            "{}",
            m.encode()
        );
        let mut exported: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(String::from)
            .collect();
        exported.sort();
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.txt"))
            .unwrap();
        let mut documented: Vec<String> = doc
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
        documented.sort();
        assert_eq!(exported, documented);
        for l in text.lines().filter(|l| l.starts_with("# HELP ")) {
            assert!(l.split_whitespace().count() > 3, "HELP text missing: {l}");
        }
    }

    #[test]
    fn exposes_text_format() {
        let m = Metrics::default();
        m.reconciles
            .get_or_create(&ResultLabels {
                result: "compliant",
            })
            .inc();
        MetricsObserver(Arc::new(Metrics::default())).observe("s3", "GetBucketPolicy", "ok");
        let text = m.encode();
        assert!(
            text.contains("bedrock_logging_reconciles_total{result=\"compliant\"} 1"),
            "{text}"
        );
        assert!(text.contains("bedrock_logging_reconcile_duration_seconds_bucket"));
    }
}
