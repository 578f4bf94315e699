//! `check -o ocsf`: the report as OCSF 1.1.0 Compliance Finding events (for Amazon Security Lake
//! and other OCSF consumers), one per region × check, in the shape Prowler emits its OCSF
//! findings (metadata.product, metadata.event_code = check id, finding_info, cloud, resources,
//! status_code / status_detail, remediation.desc, unmapped). Built only from the
//! `check -o json` document (docs/check-output.md).
//!
//! Fields taken from the OCSF 1.1.0 class schema, Compliance Finding (class_uid 2003, category
//! Findings = 2):
//! - required: `activity_id` (1 Create), `category_uid` (2), `class_uid` (2003), `compliance`,
//!   `finding_info`, `metadata`, `severity_id`, `time` (epoch ms), `type_uid`
//!   (class_uid × 100 + activity_id = 200301);
//! - recommended / optional: `activity_name`, `category_name`, `class_name`, `type_name`,
//!   `severity`, `status_id` / `status` (finding status: 1 New, 4 Resolved), `status_code`,
//!   `status_detail`, `message`, `cloud` (cloud profile), `resources`, `remediation`, `unmapped`;
//! - `metadata` (Metadata object): `version` (required, "1.1.0"), `product` (required:
//!   `name`, `vendor_name`, `version`, `uid`), `event_code`, `profiles`;
//! - `finding_info` (Finding Information object): `uid` (required; the same stable id as the
//!   ASFF `Id`), `title`, `desc`, `types`, `created_time`, `product_uid`;
//! - `compliance` (Compliance object): `standards` (required), `requirements`, `control`,
//!   `status_id` (0 Unknown, 1 Pass, 2 Warning, 3 Fail, 99 Other — SKIP is 99 with `status`
//!   "Skip"), `status`, `status_code`, `status_detail`;
//! - `cloud` (Cloud object): `provider` (required, "AWS"), `region`, `account` (`uid`, `type`
//!   "AWS Account", `type_id` 10);
//! - `resources` (Resource Details objects): `uid`, `type` (the ASFF resource type names, as
//!   Prowler does), `region`, `cloud_partition`.

use serde_json::{Value, json};

use super::asff::{
    FINDING_TYPE, PRODUCT_NAME, ReportFinding, check_title, finding_description, finding_resource,
    finding_uid, partition_for_region, report_findings,
};

/// The OCSF schema version the events follow.
pub const OCSF_VERSION: &str = "1.1.0";
pub const CLASS_UID: i64 = 2003;
pub const CATEGORY_UID: i64 = 2;
pub const ACTIVITY_ID: i64 = 1;
pub const TYPE_UID: i64 = CLASS_UID * 100 + ACTIVITY_ID;

/// `severity_id` and its caption for a check severity.
pub fn severity(severity: &str) -> (i64, &'static str) {
    match severity.to_ascii_lowercase().as_str() {
        "critical" => (5, "Critical"),
        "high" => (4, "High"),
        "medium" => (3, "Medium"),
        "low" => (2, "Low"),
        _ => (1, "Informational"),
    }
}

/// `compliance.status_id` and its caption for a finding status.
pub fn compliance_status(status: &str) -> (i64, &'static str) {
    match status {
        "PASS" => (1, "Pass"),
        "WARN" => (2, "Warning"),
        "FAIL" => (3, "Fail"),
        "SKIP" => (99, "Skip"),
        _ => (0, "Unknown"),
    }
}

/// The finding's own `status_id` / `status`: New while something needs fixing, else Resolved.
pub fn finding_status(status: &str) -> (i64, &'static str) {
    match status {
        "FAIL" | "WARN" => (1, "New"),
        _ => (4, "Resolved"),
    }
}

fn ocsf_event(f: &ReportFinding<'_>, now_epoch_ms: i64) -> Value {
    let (severity_id, severity_name) = severity(f.severity);
    let (compliance_id, compliance_name) = compliance_status(f.status);
    let (status_id, status_name) = finding_status(f.status);
    let resource = finding_resource(f);
    let standards: Vec<&str> = if f.frameworks.is_empty() {
        vec![PRODUCT_NAME]
    } else {
        f.frameworks.clone()
    };
    let message = finding_description(f, 4096);
    json!({
        "class_uid": CLASS_UID,
        "class_name": "Compliance Finding",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": ACTIVITY_ID,
        "activity_name": "Create",
        "type_uid": TYPE_UID,
        "type_name": "Compliance Finding: Create",
        "time": now_epoch_ms,
        "severity_id": severity_id,
        "severity": severity_name,
        "status_id": status_id,
        "status": status_name,
        "status_code": f.status,
        "status_detail": f.message,
        "message": message,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {
                "uid": PRODUCT_NAME,
                "name": PRODUCT_NAME,
                "vendor_name": PRODUCT_NAME,
                "version": env!("CARGO_PKG_VERSION"),
            },
            "event_code": f.check,
            "profiles": ["cloud"],
        },
        "finding_info": {
            "uid": finding_uid(f),
            "title": check_title(f.check),
            "desc": message,
            "types": [FINDING_TYPE],
            "created_time": now_epoch_ms,
            "product_uid": PRODUCT_NAME,
        },
        "compliance": {
            "control": f.check,
            "requirements": [f.check],
            "standards": standards,
            "status_id": compliance_id,
            "status": compliance_name,
            "status_code": f.status,
            "status_detail": f.message,
        },
        "cloud": {
            "provider": "AWS",
            "region": f.region,
            "account": {"uid": f.account, "type": "AWS Account", "type_id": 10},
        },
        "resources": [{
            "uid": resource.id,
            "type": resource.kind,
            "region": f.region,
            "cloud_partition": partition_for_region(f.region),
        }],
        "remediation": {"desc": f.message},
        "unmapped": {
            "policy": f.policy,
            "file": f.file,
            "mode": f.mode,
            "region_state": f.region_state,
        },
    })
}

/// The report as a JSON array of OCSF Compliance Finding events, one per region × check, in
/// report order; `now_epoch_ms` is the event time (milliseconds since the Unix epoch).
pub fn to_ocsf(report_json: &Value, now_epoch_ms: i64) -> Value {
    Value::Array(
        report_findings(report_json)
            .iter()
            .map(|f| ocsf_event(f, now_epoch_ms))
            .collect(),
    )
}
