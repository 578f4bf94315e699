//! The Kubernetes permissions the controller's code uses. The Helm chart and kustomize RBAC are
//! checked against this list by the packaging tests (`bedrock-logging-operator rbac-rules`).

use serde_json::{Value, json};

/// (apiGroup, resource, verbs) used cluster-wide.
pub const CLUSTER_RULES: &[(&str, &str, &[&str])] = &[
    // watch + list (controller), patch (finalizer add/remove, server-side apply).
    (
        "bedrocklogging.io",
        "bedrockloggingpolicies",
        &["get", "list", "watch", "patch", "update"],
    ),
    (
        "bedrocklogging.io",
        "bedrockloggingpolicies/status",
        &["get", "patch", "update"],
    ),
    (
        "bedrocklogging.io",
        "bedrockloggingpolicies/finalizers",
        &["update"],
    ),
    // Events about cluster-scoped policies land in the default namespace.
    ("events.k8s.io", "events", &["create", "patch"]),
];

/// Used in the operator's own namespace only (leader election).
pub const NAMESPACED_RULES: &[(&str, &str, &[&str])] = &[(
    "coordination.k8s.io",
    "leases",
    &["get", "create", "update"],
)];

const REPORT_VERBS: &[&str] = &["get", "list", "watch", "create", "patch", "update"];

/// What each `run --reports` mode adds (cluster-wide): the report kind(s) it may write, and
/// for `auto` read access to the CRDs it detects them by.
pub fn report_rules(
    mode: super::reports::ReportsMode,
) -> Vec<(&'static str, &'static str, &'static [&'static str])> {
    use super::reports::ReportsMode::*;
    let open = ("openreports.io", "clusterreports", REPORT_VERBS);
    let policy = ("wgpolicyk8s.io", "clusterpolicyreports", REPORT_VERBS);
    let crds: (&str, &str, &[&str]) = (
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        &["get", "list"],
    );
    match mode {
        None => vec![],
        Openreports => vec![open],
        Policyreport => vec![policy],
        Auto => vec![open, policy, crds],
    }
}

fn to_json(rules: &[(&str, &str, &[&str])]) -> Vec<Value> {
    rules
        .iter()
        .map(|(g, r, v)| json!({"apiGroups": [g], "resources": [r], "verbs": v}))
        .collect()
}

pub fn rules_json(mode: super::reports::ReportsMode) -> Value {
    let mut cluster = CLUSTER_RULES.to_vec();
    cluster.extend(report_rules(mode));
    json!({"clusterRules": to_json(&cluster), "namespacedRules": to_json(NAMESPACED_RULES)})
}
