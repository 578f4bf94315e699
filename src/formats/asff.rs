//! `check -o asff`: the report as AWS Security Finding Format (ASFF) findings, ready for Security
//! Hub's `BatchImportFindings`. Built only from the `check -o json` document
//! (docs/check-output.md), so it depends on that documented schema and not on engine types.
//!
//! One finding per region × check (SKIP findings included, as `NOT_AVAILABLE`). The `Id` is
//! stable (`bedrock-logging-operator/<account>/<region>/<policy>/<check>`), so importing the
//! findings of a later run updates the earlier ones instead of duplicating them.
//!
//! Every top-level attribute that the Security Hub user guide lists as required ("Required
//! top-level ASFF attributes": AwsAccountId, CreatedAt, Description, GeneratorId, Id, ProductArn,
//! Resources, SchemaVersion, Severity, Title, Types, UpdatedAt) is always present, within the
//! API reference's length limits (Title ≤ 256, Description ≤ 1024,
//! Remediation.Recommendation.Text ≤ 512, Resources ≤ 32, Compliance.RelatedRequirements ≤ 32).
//!
//! The helpers below (reading findings out of the JSON report, the stable id, the resource of a
//! check, the partition of a region) are shared with the OCSF and HTML outputs.

use serde_json::{Map, Value, json};

use crate::engine::findings::check_def;

/// ASFF's only schema version.
pub const ASFF_SCHEMA_VERSION: &str = "2018-10-08";
/// The product name used in ids, ProductFields and OCSF metadata.
pub const PRODUCT_NAME: &str = "bedrock-logging-operator";
/// ASFF finding type (`namespace/category/classifier`).
pub const FINDING_TYPE: &str = "Software and Configuration Checks/AWS Security Best Practices/Bedrock Model Invocation Logging";
/// Used for `AwsAccountId` when the report has no account (STS failed before any check ran).
pub const UNKNOWN_ACCOUNT: &str = "unknown";

/// Length limits from the `AwsSecurityFinding` API reference (bytes here, which is stricter).
pub const TITLE_MAX: usize = 256;
pub const DESCRIPTION_MAX: usize = 1024;
pub const RECOMMENDATION_MAX: usize = 512;
const LIST_MAX: usize = 32;

/// One region × check finding, read from the JSON report.
pub struct ReportFinding<'a> {
    pub policy: &'a str,
    pub file: &'a str,
    pub mode: &'a str,
    /// The account STS reported, or [`UNKNOWN_ACCOUNT`].
    pub account: &'a str,
    pub region: &'a str,
    pub region_state: &'a str,
    /// The check id.
    pub check: &'a str,
    /// PASS | FAIL | WARN | SKIP
    pub status: &'a str,
    /// low | medium | high | critical
    pub severity: &'a str,
    pub message: &'a str,
    pub frameworks: Vec<&'a str>,
    /// The region's `resources` object (ARNs), if any.
    pub resources: Option<&'a Value>,
}

/// The resource a finding is about.
pub struct FindingResource {
    /// ASFF resource type: AwsS3Bucket, AwsKmsKey, AwsIamRole, AwsAccount or Other.
    pub kind: &'static str,
    /// The resource ARN, or `AWS::::Account:<account>` for account-level settings.
    pub id: String,
}

pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn array_of<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Every finding of the report, in report order (policy, region, check).
pub fn report_findings(report: &Value) -> Vec<ReportFinding<'_>> {
    let mut out = Vec::new();
    for p in array_of(report, "policies") {
        let account = p
            .get("account")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
            .unwrap_or(UNKNOWN_ACCOUNT);
        for reg in array_of(p, "regions") {
            for f in array_of(reg, "findings") {
                out.push(ReportFinding {
                    policy: str_of(p, "policy"),
                    file: str_of(p, "file"),
                    mode: str_of(p, "mode"),
                    account,
                    region: str_of(reg, "region"),
                    region_state: str_of(reg, "state"),
                    check: str_of(f, "id"),
                    status: str_of(f, "status"),
                    severity: str_of(f, "severity"),
                    message: str_of(f, "message"),
                    frameworks: array_of(f, "frameworks")
                        .iter()
                        .filter_map(Value::as_str)
                        .collect(),
                    resources: reg.get("resources"),
                });
            }
        }
    }
    out
}

/// The stable finding id: `bedrock-logging-operator/<account>/<region>/<policy>/<check>`.
pub fn finding_uid(f: &ReportFinding<'_>) -> String {
    format!(
        "{PRODUCT_NAME}/{}/{}/{}/{}",
        f.account, f.region, f.policy, f.check
    )
}

/// The AWS partition a region belongs to.
pub use crate::policy_doc::partition as partition_for_region;

/// The partition of the report's first region (`aws` when it has none).
pub fn report_partition(report: &Value) -> &'static str {
    let first = array_of(report, "policies")
        .iter()
        .flat_map(|p| array_of(p, "regions"))
        .find_map(|r| r.get("region").and_then(Value::as_str));
    partition_for_region(first.unwrap_or(""))
}

/// The check's title (from the check catalogue), or its id for an unknown check.
pub fn check_title(check: &str) -> String {
    check_def(check)
        .map(|c| c.title.to_string())
        .unwrap_or_else(|| check.to_string())
}

/// Which ARN of the region's `resources` a check is about (none: an account-level setting).
fn resource_key(check: &str) -> Option<&'static str> {
    if check.contains("_s3_") {
        Some("bucketArn")
    } else if check.contains("log_group") {
        Some("logGroupArn")
    } else if check.contains("kms") {
        Some("kmsKeyArn")
    } else if check.contains("role") {
        Some("roleArn")
    } else {
        None
    }
}

/// The ASFF resource type of an ARN (`Other` when ASFF has no dedicated type, e.g. log groups).
pub fn asff_resource_type(arn: &str) -> &'static str {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let service = parts.get(2).copied().unwrap_or("");
    let rest = parts.get(5).copied().unwrap_or("");
    match service {
        "s3" => "AwsS3Bucket",
        "kms" if rest.starts_with("key/") => "AwsKmsKey",
        "iam" if rest.starts_with("role/") => "AwsIamRole",
        _ => "Other",
    }
}

/// The resource a finding is about: the ARN the JSON report gives for it, else the account.
pub fn finding_resource(f: &ReportFinding<'_>) -> FindingResource {
    let arn = resource_key(f.check)
        .and_then(|k| f.resources.and_then(|r| r.get(k)))
        .and_then(Value::as_str)
        .filter(|a| a.starts_with("arn:"));
    match arn {
        Some(a) => FindingResource {
            kind: asff_resource_type(a),
            id: a.to_string(),
        },
        None => FindingResource {
            kind: "AwsAccount",
            id: format!("AWS::::Account:{}", f.account),
        },
    }
}

/// `Severity.Label` for a check severity.
pub fn severity_label(severity: &str) -> &'static str {
    match severity.to_ascii_lowercase().as_str() {
        "critical" => "CRITICAL",
        "high" => "HIGH",
        "medium" => "MEDIUM",
        "low" => "LOW",
        _ => "INFORMATIONAL",
    }
}

/// `Compliance.Status` for a finding status.
pub fn compliance_status(status: &str) -> &'static str {
    match status {
        "PASS" => "PASSED",
        "FAIL" => "FAILED",
        "WARN" => "WARNING",
        _ => "NOT_AVAILABLE",
    }
}

/// `Workflow.Status`: open (NEW) for what needs fixing, RESOLVED otherwise.
pub fn workflow_status(compliance: &str) -> &'static str {
    match compliance {
        "FAILED" | "WARNING" => "NEW",
        _ => "RESOLVED",
    }
}

/// `<policy> (<region>): <message>`, never empty, at most `max` bytes.
pub fn finding_description(f: &ReportFinding<'_>, max: usize) -> String {
    let message = if f.message.trim().is_empty() {
        format!("{} is {}", f.check, f.status)
    } else {
        f.message.to_string()
    };
    crate::truncate(&format!("{} ({}): {message}", f.policy, f.region), max)
}

/// One ASFF finding.
fn asff_finding(f: &ReportFinding<'_>, now: &str, partition: &str) -> Value {
    let status = compliance_status(f.status);
    let resource = finding_resource(f);
    let label = severity_label(f.severity);
    let recommendation = if f.message.trim().is_empty() {
        check_title(f.check)
    } else {
        f.message.to_string()
    };
    let requirements: Vec<&str> = f.frameworks.iter().copied().take(LIST_MAX).collect();
    let mut compliance = json!({"Status": status});
    if !requirements.is_empty() {
        compliance["RelatedRequirements"] = json!(requirements);
    }

    let mut product_fields = Map::new();
    product_fields.insert("ProviderName".into(), json!(PRODUCT_NAME));
    product_fields.insert("ProviderVersion".into(), json!(env!("CARGO_PKG_VERSION")));
    product_fields.insert("bedrocklogging/policy".into(), json!(f.policy));
    product_fields.insert("bedrocklogging/region".into(), json!(f.region));
    for (key, value) in [
        ("bedrocklogging/mode", f.mode),
        ("bedrocklogging/status", f.status),
        ("bedrocklogging/regionState", f.region_state),
        ("bedrocklogging/file", f.file),
    ] {
        // ProductFields values must not be empty.
        if !value.is_empty() {
            product_fields.insert(key.into(), json!(crate::truncate(value, 2048)));
        }
    }

    json!({
        "SchemaVersion": ASFF_SCHEMA_VERSION,
        "Id": finding_uid(f),
        "ProductArn": format!(
            "arn:{partition}:securityhub:{}:{}:product/{}/default",
            f.region, f.account, f.account
        ),
        "ProductName": PRODUCT_NAME,
        "CompanyName": PRODUCT_NAME,
        "GeneratorId": f.check,
        "AwsAccountId": f.account,
        "Types": [FINDING_TYPE],
        "CreatedAt": now,
        "UpdatedAt": now,
        "Severity": {"Label": label, "Original": f.severity},
        "FindingProviderFields": {
            "Severity": {"Label": label, "Original": f.severity},
            "Types": [FINDING_TYPE],
        },
        "Title": crate::truncate(&check_title(f.check), TITLE_MAX),
        "Description": finding_description(f, DESCRIPTION_MAX),
        "Resources": [{
            "Type": resource.kind,
            "Id": resource.id,
            "Partition": partition,
            "Region": f.region,
        }],
        "Compliance": compliance,
        "ProductFields": Value::Object(product_fields),
        "RecordState": "ACTIVE",
        "Workflow": {"Status": workflow_status(status)},
        "Remediation": {"Recommendation": {"Text": crate::truncate(&recommendation, RECOMMENDATION_MAX)}},
    })
}

/// The report as a JSON array of ASFF findings, one per region × check, in report order.
/// `now` is an RFC 3339 timestamp (CreatedAt/UpdatedAt); `partition` is `aws`, `aws-cn` or
/// `aws-us-gov` (ProductArn and Resources[].Partition).
pub fn to_asff(report_json: &Value, now: &str, partition: &str) -> Value {
    Value::Array(
        report_findings(report_json)
            .iter()
            .map(|f| asff_finding(f, now, partition))
            .collect(),
    )
}
