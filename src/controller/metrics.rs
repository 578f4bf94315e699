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

pub struct Metrics {
    pub registry: Registry,
    pub reconciles: Family<ResultLabels, Counter>,
    pub reconcile_duration: Histogram,
    pub aws_calls: Family<CallLabels, Counter>,
    pub drift_corrections: Family<PolicyLabels, Counter>,
    pub compliant_regions: Family<PolicyLabels, Gauge>,
    pub total_regions: Family<PolicyLabels, Gauge>,
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
        Metrics {
            registry,
            reconciles,
            reconcile_duration,
            aws_calls,
            drift_corrections,
            compliant_regions,
            total_regions,
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
