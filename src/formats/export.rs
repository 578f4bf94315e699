//! `--export securityhub`: the findings of a pass, as ASFF, imported into the governed
//! account's Security Hub (`BatchImportFindings`, at most 100 a call, per region). Stable
//! finding ids make a re-import update rather than duplicate.

use std::collections::BTreeMap;

use serde_json::Value;

use super::asff::{report_partition, to_asff};
use super::{PolicyResult, to_json};
use crate::api::BedrockLoggingPolicySpec;
use crate::cloud::{Cloud, CloudError, CloudFactory};

/// Security Hub's limit on findings per `BatchImportFindings`.
pub const BATCH: usize = 100;

/// What an export did.
#[derive(Debug, Default, PartialEq)]
pub struct Exported {
    pub imported: usize,
    /// (finding id, reason) refused by Security Hub, or a batch that failed as a whole.
    pub failed: Vec<(String, String)>,
}

/// The ASFF findings of one policy's pass, by region (each goes to that region's hub).
pub fn findings_by_region(result: &PolicyResult, now: &str) -> BTreeMap<String, Vec<Value>> {
    let json = to_json(std::slice::from_ref(result));
    let asff = to_asff(&json, now, report_partition(&json));
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for f in asff.as_array().into_iter().flatten() {
        let region = f
            .pointer("/Resources/0/Region")
            .and_then(Value::as_str)
            .unwrap_or("us-east-1")
            .to_string();
        out.entry(region).or_default().push(f.clone());
    }
    out
}

/// Import one policy's findings into its account's Security Hub.
pub async fn to_security_hub(cloud: &dyn Cloud, result: &PolicyResult, now: &str) -> Exported {
    let mut done = Exported::default();
    for (region, findings) in findings_by_region(result, now) {
        for batch in findings.chunks(BATCH) {
            match cloud.securityhub_import(&region, batch).await {
                Ok(refused) => {
                    done.imported += batch.len() - refused.len();
                    done.failed.extend(
                        refused
                            .into_iter()
                            .map(|f| (f.id, format!("{}: {}", f.code, f.message))),
                    );
                }
                Err(e) => done.failed.extend(batch.iter().map(|f| {
                    (
                        f["Id"].as_str().unwrap_or_default().to_string(),
                        e.to_string(),
                    )
                })),
            }
        }
    }
    done
}

/// Export one policy's findings to its account's Security Hub: the account reached as the policy
/// says (its role assumed), findings stamped now. The one driver of the CLI and the controller.
pub async fn export_policy(
    factory: &dyn CloudFactory,
    spec: &BedrockLoggingPolicySpec,
    name: &str,
    result: &PolicyResult,
) -> Result<Exported, CloudError> {
    let cloud = factory
        .cloud_for(&crate::engine::account_target(spec), &format!("blo-{name}"))
        .await?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Ok(to_security_hub(cloud.as_ref(), result, &now).await)
}

/// What an export sends, as a fingerprint: every finding's region, check, status and message
/// (not the changes a pass made, which do not change a finding).
pub fn fingerprint(result: &PolicyResult) -> u32 {
    let mut text = String::new();
    for r in &result.report.regions {
        for f in &r.findings {
            text.push_str(&format!(
                "{}|{}|{:?}|{}\n",
                r.region, f.id, f.status, f.message
            ));
        }
    }
    crate::policy_doc::fnv1a32(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{FindingResult, Mode, RegionState};
    use crate::engine::{Finding, PolicyReport, RegionReport, findings};

    fn result(status: FindingResult, applied: Vec<String>) -> PolicyResult {
        PolicyResult {
            file: "p.yaml".into(),
            report: PolicyReport {
                policy: "p".into(),
                mode: Mode::Enforce,
                account_id: Some("123456789012".into()),
                global_error: None,
                regions: vec![RegionReport {
                    region: "us-east-1".into(),
                    state: RegionState::Compliant,
                    findings: vec![Finding {
                        id: findings::LOGGING_ENABLED,
                        severity: findings::Severity::High,
                        status,
                        message: "m".into(),
                    }],
                    pending: vec![],
                    applied,
                    error: None,
                    resources: Default::default(),
                    tamper_watch: None,
                    last_tamper: None,
                }],
                global_pending: vec![],
                global_applied: vec![],
                permissions_changed: false,
                regions_gone: vec![],
            },
        }
    }

    /// The controller exports again only when a finding changed, not when a pass made changes.
    #[test]
    fn the_fingerprint_follows_findings_not_changes() {
        let a = fingerprint(&result(FindingResult::Pass, vec![]));
        assert_eq!(
            a,
            fingerprint(&result(
                FindingResult::Pass,
                vec!["bucket b created".into()]
            ))
        );
        assert_ne!(a, fingerprint(&result(FindingResult::Fail, vec![])));
    }
}
