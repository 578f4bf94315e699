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

fn to_json(rules: &[(&str, &str, &[&str])]) -> Vec<Value> {
    rules
        .iter()
        .map(|(g, r, v)| json!({"apiGroups": [g], "resources": [r], "verbs": v}))
        .collect()
}

pub fn rules_json() -> Value {
    json!({"clusterRules": to_json(CLUSTER_RULES), "namespacedRules": to_json(NAMESPACED_RULES)})
}
