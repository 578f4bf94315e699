//! Reports for people and machines, shared by the CLI and the controller: a table (colour on a
//! TTY), JSON with a stable schema (docs/check-output.md), SARIF 2.1.0 for code-scanning UIs,
//! ASFF (Security Hub) and OCSF (Security Lake) findings, a self-contained HTML page, and the
//! Security Hub export.

pub mod asff;
pub mod export;
pub mod html;
pub mod ocsf;

use std::io::IsTerminal;

use colored::Colorize;
use serde_json::{Value, json};

use crate::api::{FindingResult, RegionState};
use crate::engine::PolicyReport;
use crate::engine::findings::{CHECKS, check_def};
use clap::ValueEnum;

/// `-o` of `check` and `apply`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Sarif,
    /// AWS Security Finding Format (Security Hub BatchImportFindings), one finding per region × check.
    Asff,
    /// OCSF 1.1.0 Compliance Finding events (Security Lake), one per region × check.
    Ocsf,
    /// One self-contained HTML page: a checks × regions matrix with the fixes.
    Html,
}

pub const JSON_SCHEMA_VERSION: &str = "bedrocklogging.io/check/v1";

#[derive(Debug, Clone)]
pub struct PolicyResult {
    pub file: String,
    pub report: PolicyReport,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Check,
    Plan,
    Apply,
}

pub fn print(results: &[PolicyResult], format: OutputFormat, verb: Verb) {
    // The time of the run, for the ASFF / OCSF / HTML outputs (RFC 3339, seconds, `Z`).
    let now = chrono::Utc::now();
    let now_rfc3339 = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&to_json(results)).unwrap_or_default()
        ),
        OutputFormat::Sarif => println!(
            "{}",
            serde_json::to_string_pretty(&to_sarif(results)).unwrap_or_default()
        ),
        OutputFormat::Asff => {
            let v = to_json(results);
            let partition = asff::report_partition(&v);
            let asff = asff::to_asff(&v, &now_rfc3339, partition);
            println!(
                "{}",
                serde_json::to_string_pretty(&asff).unwrap_or_default()
            );
        }
        OutputFormat::Ocsf => {
            let v = to_json(results);
            let ocsf = ocsf::to_ocsf(&v, now.timestamp_millis());
            println!(
                "{}",
                serde_json::to_string_pretty(&ocsf).unwrap_or_default()
            );
        }
        OutputFormat::Html => {
            let v = to_json(results);
            print!("{}", html::to_html(&v, &now_rfc3339));
        }
        OutputFormat::Table => {
            let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            colored::control::set_override(colour);
            print!("{}", to_table(results, verb));
        }
    }
}

fn state_str(s: RegionState) -> String {
    let t = s.to_string();
    match s {
        RegionState::Compliant => t.green().to_string(),
        RegionState::Converging => t.yellow().to_string(),
        _ => t.red().to_string(),
    }
}

fn status_str(s: FindingResult) -> String {
    match s {
        FindingResult::Pass => "PASS".green().to_string(),
        FindingResult::Fail => "FAIL".red().bold().to_string(),
        FindingResult::Warn => "WARN".yellow().to_string(),
        FindingResult::Skip => "SKIP".dimmed().to_string(),
    }
}

/// The human-readable report.
pub fn to_table(results: &[PolicyResult], verb: Verb) -> String {
    let mut out = String::new();
    for r in results {
        let p = &r.report;
        out.push_str(&format!(
            "POLICY {}  ACCOUNT {}  MODE {:?}  ({})\n",
            p.policy.bold(),
            p.account_id.as_deref().unwrap_or("?"),
            p.mode,
            r.file
        ));
        if let Some(e) = &p.global_error {
            out.push_str(&format!("  {} {e}\n", "error:".red().bold()));
        }
        let width = CHECKS.iter().map(|c| c.id.len()).max().unwrap_or(40);
        out.push_str(&format!(
            "  {:<16} {:<13} {:<width$}  {:<6} {}\n",
            "REGION", "STATE", "CHECK", "STATUS", "MESSAGE"
        ));
        for reg in &p.regions {
            let state = format!("{:<13}", reg.state.to_string());
            let state = state.replace(&reg.state.to_string(), &state_str(reg.state));
            if reg.findings.is_empty() {
                out.push_str(&format!("  {:<16} {state} {}\n", reg.region, reg.message()));
                continue;
            }
            for (i, f) in reg.findings.iter().enumerate() {
                let (region, st) = if i == 0 {
                    (reg.region.as_str(), state.clone())
                } else {
                    ("", " ".repeat(13))
                };
                let word = format!("{:?}", f.status).to_uppercase();
                let status = format!("{word:<6}").replace(&word, &status_str(f.status));
                out.push_str(&format!(
                    "  {region:<16} {st} {:<width$}  {status} {}\n",
                    f.id, f.message
                ));
            }
            if let Some(e) = &reg.error {
                out.push_str(&format!("  {:<16} {} {e}\n", "", "error:".red().bold()));
            }
        }
        let (title, changes) = match verb {
            Verb::Plan => ("Planned changes (nothing written)", p.all_pending()),
            Verb::Apply => ("Changes made", p.all_applied()),
            Verb::Check => ("", vec![]),
        };
        if verb != Verb::Check {
            if changes.is_empty() {
                out.push_str(&format!("{title}: none\n"));
            } else {
                out.push_str(&format!("{title}:\n"));
                for c in changes {
                    out.push_str(&format!("  + {c}\n"));
                }
            }
        }
        out.push_str(&format!(
            "{} {}/{} regions compliant\n\n",
            if p.all_compliant() {
                "✔".green().to_string()
            } else {
                "✘".red().to_string()
            },
            p.compliant_regions(),
            p.regions.len()
        ));
    }
    out
}

/// The JSON report (schema in docs/check-output.md).
pub fn to_json(results: &[PolicyResult]) -> Value {
    let policies: Vec<Value> = results
        .iter()
        .map(|r| {
            let p = &r.report;
            json!({
                "policy": p.policy,
                "file": r.file,
                "mode": format!("{:?}", p.mode),
                "account": p.account_id,
                "compliant": p.all_compliant(),
                "error": p.global_error.as_ref().map(|e| e.to_string()),
                "regions": p.regions.iter().map(|reg| json!({
                    "region": reg.region,
                    "state": reg.state.to_string(),
                    "message": reg.message(),
                    "error": reg.error.as_ref().map(|e| e.to_string()),
                    "findings": reg.findings.iter().map(|f| json!({
                        "id": f.id,
                        "status": format!("{:?}", f.status).to_uppercase(),
                        "severity": f.severity.as_str(),
                        "message": f.message,
                        "frameworks": check_def(f.id).map(|c| c.frameworks.to_vec()).unwrap_or_default(),
                    })).collect::<Vec<_>>(),
                    "pendingChanges": reg.pending,
                    "appliedChanges": reg.applied,
                    "resources": reg.resources,
                })).collect::<Vec<_>>(),
                "globalPendingChanges": p.global_pending,
                "globalAppliedChanges": p.global_applied,
            })
        })
        .collect();
    let errors = results.iter().filter(|r| r.report.has_errors()).count();
    let compliant = results.iter().filter(|r| r.report.all_compliant()).count();
    json!({
        "schemaVersion": JSON_SCHEMA_VERSION,
        "policies": policies,
        "summary": {
            "policies": results.len(),
            "compliant": compliant,
            "nonCompliant": results.iter().filter(|r| !r.report.all_compliant() && !r.report.has_errors()).count(),
            "errors": errors,
        }
    })
}

fn sarif_level(severity: &str) -> &'static str {
    match severity {
        "critical" | "high" => "error",
        "medium" => "warning",
        _ => "note",
    }
}

/// SARIF 2.1.0: one rule per check, one result per failing finding.
pub fn to_sarif(results: &[PolicyResult]) -> Value {
    let rules: Vec<Value> = CHECKS
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "name": c.id,
                "shortDescription": {"text": c.title},
                "defaultConfiguration": {"level": sarif_level(c.severity.as_str())},
                "properties": {"severity": c.severity.as_str(), "tags": c.frameworks},
            })
        })
        .collect();
    let mut out = Vec::new();
    for r in results {
        for reg in &r.report.regions {
            for f in reg
                .findings
                .iter()
                .filter(|f| matches!(f.status, FindingResult::Fail | FindingResult::Warn))
            {
                out.push(json!({
                    "ruleId": f.id,
                    "level": if f.status == FindingResult::Warn { "note" } else { sarif_level(f.severity.as_str()) },
                    "message": {"text": format!("{} ({}): {}", r.report.policy, reg.region, f.message)},
                    "locations": [{
                        "physicalLocation": {"artifactLocation": {"uri": r.file}},
                        "logicalLocations": [{"fullyQualifiedName": format!("{}/{}", r.report.policy, reg.region), "kind": "resource"}]
                    }],
                    "properties": {"account": r.report.account_id, "region": reg.region},
                }));
            }
            if let Some(e) = &reg.error {
                out.push(json!({
                    "ruleId": "bedrocklogging_error",
                    "level": "error",
                    "message": {"text": format!("{} ({}): {e}", r.report.policy, reg.region)},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": r.file}}}],
                }));
            }
        }
    }
    let mut all_rules = rules;
    all_rules.push(json!({"id": "bedrocklogging_error", "name": "bedrocklogging_error", "shortDescription": {"text": "The policy could not be evaluated"}, "defaultConfiguration": {"level": "error"}}));
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "bedrock-logging-operator",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/bedrock-logging-operator/bedrock-logging-operator",
                "rules": all_rules,
            }},
            "results": out,
        }]
    })
}
