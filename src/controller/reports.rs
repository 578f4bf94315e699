//! Compliance reports as Kubernetes objects (SPEC §4a): one OpenReports `ClusterReport` per
//! policy when that CRD is installed, else a `wgpolicyk8s.io` `ClusterPolicyReport`; owned by
//! the policy (garbage-collected with it), written by server-side apply only when its content
//! changes. [`build`] is pure.

use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use serde_json::{Value, json};

use crate::api::{BedrockLoggingPolicy, FindingResult};
use crate::engine::PolicyReport;

/// `run --reports`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ReportsMode {
    /// OpenReports when its CRD is installed, else ClusterPolicyReport, else none.
    #[default]
    Auto,
    Openreports,
    Policyreport,
    None,
}

/// Which report kind the controller writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportKind {
    OpenReports,
    PolicyReport,
}

impl ReportKind {
    pub fn gvk(self) -> GroupVersionKind {
        match self {
            ReportKind::OpenReports => {
                GroupVersionKind::gvk("openreports.io", "v1alpha1", "ClusterReport")
            }
            ReportKind::PolicyReport => {
                GroupVersionKind::gvk("wgpolicyk8s.io", "v1alpha2", "ClusterPolicyReport")
            }
        }
    }
    fn plural(self) -> &'static str {
        match self {
            ReportKind::OpenReports => "clusterreports",
            ReportKind::PolicyReport => "clusterpolicyreports",
        }
    }
    /// The CRD's name, to detect whether it is installed.
    pub fn crd_name(self) -> String {
        format!("{}.{}", self.plural(), self.gvk().group)
    }
    pub fn api_resource(self) -> ApiResource {
        ApiResource::from_gvk_with_plural(&self.gvk(), self.plural())
    }
}

/// The kind to write for a mode, given which CRDs are installed.
pub fn choose(mode: ReportsMode, openreports: bool, policyreport: bool) -> Option<ReportKind> {
    match mode {
        ReportsMode::None => None,
        ReportsMode::Openreports => Some(ReportKind::OpenReports),
        ReportsMode::Policyreport => Some(ReportKind::PolicyReport),
        ReportsMode::Auto if openreports => Some(ReportKind::OpenReports),
        ReportsMode::Auto if policyreport => Some(ReportKind::PolicyReport),
        ReportsMode::Auto => None,
    }
}

/// Resolve `auto` against the API server (a CRD that cannot be read counts as absent).
pub async fn detect(client: &kube::Client, mode: ReportsMode) -> Option<ReportKind> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    if mode != ReportsMode::Auto {
        return choose(mode, false, false);
    }
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let installed = |kind: ReportKind| {
        let crds = crds.clone();
        async move { matches!(crds.get_opt(&kind.crd_name()).await, Ok(Some(_))) }
    };
    let open = installed(ReportKind::OpenReports).await;
    let policy = !open && installed(ReportKind::PolicyReport).await;
    choose(mode, open, policy)
}

/// Bound on a result's message (the report stays well under etcd's object limit).
const MAX_MESSAGE: usize = 512;

fn result_of(s: FindingResult) -> &'static str {
    match s {
        FindingResult::Pass => "pass",
        FindingResult::Fail => "fail",
        FindingResult::Warn => "warn",
        FindingResult::Skip => "skip",
    }
}

/// The report object for a policy's latest pass. Pure.
pub fn build(kind: ReportKind, policy: &BedrockLoggingPolicy, report: &PolicyReport) -> Value {
    let name = policy.name_any();
    let uid = policy.uid().unwrap_or_default();
    let account = report.account_id.clone().unwrap_or_default();
    let mut summary = [0u32; 5]; // pass fail warn error skip
    let mut results = Vec::new();
    for r in &report.regions {
        if let Some(e) = r.error.as_ref().filter(|_| r.findings.is_empty()) {
            summary[3] += 1;
            results.push(json!({
                "policy": name,
                "rule": "bedrocklogging_region_reconciled",
                "result": "error",
                "severity": "high",
                "source": "bedrock-logging-operator",
                "category": "Amazon Bedrock model invocation logging",
                "scored": true,
                "message": crate::truncate(&e.to_string(), MAX_MESSAGE),
                "properties": {"account": account, "region": r.region, "resource": format!("region/{}", r.region)},
            }));
            continue;
        }
        for f in &r.findings {
            let i = match f.status {
                FindingResult::Pass => 0,
                FindingResult::Fail => 1,
                FindingResult::Warn => 2,
                FindingResult::Skip => 4,
            };
            summary[i] += 1;
            let resource = r
                .resources
                .bucket_arn
                .clone()
                .or_else(|| r.resources.log_group_arn.clone())
                .unwrap_or_else(|| format!("region/{}", r.region));
            results.push(json!({
                "policy": name,
                "rule": f.id,
                "result": result_of(f.status),
                "severity": f.severity.as_str(),
                "source": "bedrock-logging-operator",
                "category": "Amazon Bedrock model invocation logging",
                "scored": true,
                "message": crate::truncate(&f.message, MAX_MESSAGE),
                "properties": {"account": account, "region": r.region, "resource": resource},
            }));
        }
    }
    let gvk = kind.gvk();
    let mut obj = json!({
        "apiVersion": format!("{}/{}", gvk.group, gvk.version),
        "kind": gvk.kind,
        "metadata": {
            "name": name,
            "labels": {
                "app.kubernetes.io/managed-by": "bedrock-logging-operator",
                "bedrocklogging.io/policy": name,
            },
            "ownerReferences": [{
                "apiVersion": "bedrocklogging.io/v1alpha1",
                "kind": "BedrockLoggingPolicy",
                "name": name,
                "uid": uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "scope": {
            "apiVersion": "bedrocklogging.io/v1alpha1",
            "kind": "BedrockLoggingPolicy",
            "name": name,
            "uid": uid,
        },
        "summary": {"pass": summary[0], "fail": summary[1], "warn": summary[2], "error": summary[3], "skip": summary[4]},
        "results": results,
    });
    if kind == ReportKind::OpenReports {
        obj["source"] = json!("bedrock-logging-operator");
    }
    obj
}

/// Server-side apply of a report (field manager of the controller).
pub async fn write(
    client: &kube::Client,
    kind: ReportKind,
    obj: &Value,
) -> Result<(), kube::Error> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &kind.api_resource());
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    api.patch(
        &name,
        &PatchParams::apply(super::FIELD_MANAGER).force(),
        &Patch::Apply(obj),
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_prefers_openreports_then_policy_reports() {
        assert_eq!(
            choose(ReportsMode::Auto, true, true),
            Some(ReportKind::OpenReports)
        );
        assert_eq!(
            choose(ReportsMode::Auto, false, true),
            Some(ReportKind::PolicyReport)
        );
        assert_eq!(choose(ReportsMode::Auto, false, false), None);
        assert_eq!(choose(ReportsMode::None, true, true), None);
        assert_eq!(
            choose(ReportsMode::Policyreport, true, false),
            Some(ReportKind::PolicyReport)
        );
        assert_eq!(
            ReportKind::OpenReports.crd_name(),
            "clusterreports.openreports.io"
        );
    }
}
