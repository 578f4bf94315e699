//! Golden files for the machine-readable reports (`check -o json`, `-o sarif`, `-o asff`,
//! `-o ocsf`), the HTML page and the table: the schema is a contract, so any change to it shows
//! up as a diff here. The ASFF / OCSF / HTML outputs take the time as an argument: a fixed one
//! here.
//! Regenerate with `BLO_UPDATE_GOLDEN=1 cargo test --test golden_output` and review the diff.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use blo::api::{BedrockLoggingPolicySpec, validate_file::validate_value};
use blo::cloud::BucketEncryption;
use blo::cloud::fake::{FakeBucket, FakeCloud};
use blo::engine::{EngineOptions, PolicyInput, run_policy};
use blo::formats::asff::to_asff;
use blo::formats::html::to_html;
use blo::formats::ocsf::to_ocsf;
use blo::formats::{PolicyResult, Verb, to_json, to_sarif, to_table};

fn spec(yaml: &str) -> BedrockLoggingPolicySpec {
    let v: serde_json::Value = serde_yaml::from_str(&format!("apiVersion: bedrocklogging.io/v1alpha1\nkind: BedrockLoggingPolicy\nmetadata: {{name: g}}\nspec:\n{yaml}")).unwrap();
    serde_json::from_value(validate_value(&v).unwrap()["spec"].clone()).unwrap()
}

async fn results() -> Vec<PolicyResult> {
    let fake = Arc::new(FakeCloud::new("123456789012"));
    // A pre-existing bucket encrypted with SSE-S3 in one region, nothing in the other.
    fake.state.lock().unwrap().buckets.insert(
        "golden-logs-123456789012-us-east-1".into(),
        FakeBucket {
            region: "us-east-1".into(),
            encryption: Some(BucketEncryption {
                algorithm: "AES256".into(),
                kms_key_id: None,
                bucket_key_enabled: false,
            }),
            ..Default::default()
        },
    );
    let s = spec(
        "  mode: Audit\n  regions: [us-east-1, eu-west-1]\n  kmsKey: {create: {alias: alias/golden}}\n  s3: {bucketName: \"golden-logs-{accountId}-{region}\"}\n  cloudWatch: {logGroupName: /aws/bedrock/golden, retentionInDays: 30}\n",
    );
    let opts = EngineOptions {
        dry_run: true,
        region_concurrency: 1,
        permission_retry: Duration::ZERO,
        consistency_retry: Duration::from_secs(5),
        ..EngineOptions::default()
    };
    let none = BTreeMap::new();
    let prev = BTreeMap::new();
    let report = run_policy(
        fake,
        &PolicyInput {
            name: "golden",
            spec: &s,
            conflicts: &none,
            previous: &prev,
            permission_grace: false,
        },
        &opts,
    )
    .await;
    vec![PolicyResult {
        file: "policies/golden.yaml".into(),
        report,
    }]
}

fn check_golden(name: &str, actual: &str) {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("BLO_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{path} missing: run with BLO_UPDATE_GOLDEN=1"));
    pretty_assertions::assert_eq!(
        expected,
        actual,
        "{name} changed: if intended, regenerate with BLO_UPDATE_GOLDEN=1 and document it"
    );
}

#[tokio::test]
async fn json_report_matches_golden() {
    let json = serde_json::to_string_pretty(&to_json(&results().await)).unwrap() + "\n";
    check_golden("check.json", &json);
}

#[tokio::test]
async fn sarif_report_matches_golden_and_is_sarif_2_1_0() {
    let sarif = to_sarif(&results().await);
    assert_eq!(sarif["version"], "2.1.0");
    let rules: Vec<&str> = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for result in sarif["runs"][0]["results"].as_array().unwrap() {
        assert!(
            rules.contains(&result["ruleId"].as_str().unwrap()),
            "every result refers to a declared rule"
        );
        assert!(["error", "warning", "note"].contains(&result["level"].as_str().unwrap()));
    }
    let text = serde_json::to_string_pretty(&sarif)
        .unwrap()
        .replace(env!("CARGO_PKG_VERSION"), "VERSION")
        + "\n";
    check_golden("check.sarif", &text);
}

#[tokio::test]
async fn table_report_matches_golden() {
    colored::control::set_override(false);
    check_golden("check.txt", &to_table(&results().await, Verb::Plan));
}

// ------------------------------------------------------------------ ASFF / OCSF / HTML

/// The fixed report time of the golden files (2025-01-01T00:00:00Z).
const FIXED_NOW: &str = "2025-01-01T00:00:00Z";
const FIXED_NOW_MS: i64 = 1_735_689_600_000;

/// The top-level attributes the Security Hub user guide lists as required for every finding
/// ("Required top-level ASFF attributes"); kept here, independent of the implementation.
const ASFF_REQUIRED: &[&str] = &[
    "AwsAccountId",
    "CreatedAt",
    "Description",
    "GeneratorId",
    "Id",
    "ProductArn",
    "Resources",
    "SchemaVersion",
    "Severity",
    "Title",
    "Types",
    "UpdatedAt",
];

/// The number of region × check findings in a `check -o json` report.
fn finding_count(report: &serde_json::Value) -> usize {
    report["policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["regions"].as_array().unwrap())
        .map(|r| r["findings"].as_array().unwrap().len())
        .sum()
}

/// A hand-written report exercising escaping and length limits.
fn hostile_report() -> serde_json::Value {
    serde_json::json!({
        "schemaVersion": "bedrocklogging.io/check/v1",
        "policies": [{
            "policy": "p<b>1</b>",
            "file": "policies/\"x\".yaml",
            "mode": "Enforce",
            "account": "111122223333",
            "compliant": false,
            "error": null,
            "regions": [
                {
                    "region": "cn-north-1",
                    "state": "NonCompliant",
                    "message": "failing",
                    "error": "throttled <again>",
                    "findings": [
                        {
                            "id": "bedrock_model_invocation_logging_enabled",
                            "status": "FAIL",
                            "severity": "high",
                            "message": "<script>alert('x')</script> & \"q\"",
                            "frameworks": ["SOC2"]
                        },
                        {
                            "id": "bedrocklogging_s3_public_access_blocked",
                            "status": "WARN",
                            "severity": "critical",
                            "message": "x".repeat(3000),
                            "frameworks": []
                        }
                    ],
                    "pendingChanges": ["bucket <b> created"],
                    "appliedChanges": [],
                    "resources": {"bucketArn": "arn:aws-cn:s3:::b"}
                },
                {
                    "region": "cn-northwest-1",
                    "state": "Compliant",
                    "message": "ok",
                    "error": null,
                    "findings": [
                        {
                            "id": "bedrock_model_invocation_logging_enabled",
                            "status": "PASS",
                            "severity": "high",
                            "message": "on",
                            "frameworks": ["SOC2"]
                        }
                    ],
                    "pendingChanges": [],
                    "appliedChanges": [],
                    "resources": {}
                }
            ],
            "globalPendingChanges": [],
            "globalAppliedChanges": []
        }],
        "summary": {"policies": 1, "compliant": 0, "nonCompliant": 1, "errors": 0}
    })
}

fn assert_asff_valid(findings: &[serde_json::Value]) {
    for f in findings {
        let id = f["Id"].as_str().unwrap_or("?");
        for attr in ASFF_REQUIRED {
            let v = &f[*attr];
            assert!(
                !v.is_null(),
                "{id}: required ASFF attribute {attr} is missing"
            );
            if let Some(s) = v.as_str() {
                assert!(!s.trim().is_empty(), "{id}: {attr} is empty");
            }
        }
        assert_eq!(f["SchemaVersion"], "2018-10-08", "{id}");
        let account = f["AwsAccountId"].as_str().unwrap();
        assert!(
            account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()),
            "{id}: AwsAccountId {account}"
        );
        for ts in ["CreatedAt", "UpdatedAt"] {
            let t = f[ts].as_str().unwrap();
            assert!(
                chrono::DateTime::parse_from_rfc3339(t).is_ok(),
                "{id}: {ts} {t} is not RFC 3339"
            );
        }
        assert!(id.len() <= 512, "{id}: Id longer than 512");
        assert!(f["GeneratorId"].as_str().unwrap().len() <= 512, "{id}");
        assert!(
            f["Title"].as_str().unwrap().len() <= 256,
            "{id}: Title > 256"
        );
        assert!(
            f["Description"].as_str().unwrap().len() <= 1024,
            "{id}: Description > 1024"
        );
        let product_arn = f["ProductArn"].as_str().unwrap();
        assert!(
            product_arn.starts_with("arn:aws")
                && product_arn.contains(":securityhub:")
                && product_arn.ends_with(&format!(":product/{account}/default")),
            "{id}: ProductArn {product_arn}"
        );
        let types = f["Types"].as_array().unwrap();
        assert!(!types.is_empty() && types.len() <= 50, "{id}: Types");
        for t in types {
            assert_eq!(
                t.as_str().unwrap().split('/').count(),
                3,
                "{id}: Types are namespace/category/classifier"
            );
        }
        assert!(
            ["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
                .contains(&f["Severity"]["Label"].as_str().unwrap()),
            "{id}: Severity.Label"
        );
        let resources = f["Resources"].as_array().unwrap();
        assert!(
            !resources.is_empty() && resources.len() <= 32,
            "{id}: Resources"
        );
        for r in resources {
            assert!(
                !r["Type"].as_str().unwrap().is_empty(),
                "{id}: Resources[].Type"
            );
            assert!(
                !r["Id"].as_str().unwrap().is_empty(),
                "{id}: Resources[].Id"
            );
            assert!(
                ["aws", "aws-cn", "aws-us-gov"].contains(&r["Partition"].as_str().unwrap()),
                "{id}: Resources[].Partition"
            );
            assert!(!r["Region"].as_str().unwrap().is_empty(), "{id}");
        }
        let compliance = f["Compliance"]["Status"].as_str().unwrap();
        assert!(
            ["PASSED", "WARNING", "FAILED", "NOT_AVAILABLE"].contains(&compliance),
            "{id}: Compliance.Status"
        );
        let workflow = f["Workflow"]["Status"].as_str().unwrap();
        assert_eq!(
            workflow,
            if matches!(compliance, "FAILED" | "WARNING") {
                "NEW"
            } else {
                "RESOLVED"
            },
            "{id}: Workflow.Status"
        );
        assert_eq!(f["RecordState"], "ACTIVE", "{id}");
        assert!(
            f["ProductFields"]["bedrocklogging/policy"].is_string(),
            "{id}"
        );
        assert!(
            f["ProductFields"]["bedrocklogging/region"].is_string(),
            "{id}"
        );
        let text = f["Remediation"]["Recommendation"]["Text"].as_str().unwrap();
        assert!(
            !text.is_empty() && text.len() <= 512,
            "{id}: Recommendation.Text"
        );
    }
}

#[tokio::test]
async fn asff_report_matches_golden() {
    let report = to_json(&results().await);
    let asff = to_asff(&report, FIXED_NOW, "aws");
    let text = serde_json::to_string_pretty(&asff)
        .unwrap()
        .replace(env!("CARGO_PKG_VERSION"), "VERSION")
        + "\n";
    check_golden("check.asff.json", &text);
}

#[tokio::test]
async fn asff_findings_have_every_required_attribute_and_stable_unique_ids() {
    let report = to_json(&results().await);
    let asff = to_asff(&report, FIXED_NOW, "aws");
    let findings = asff.as_array().unwrap();
    // One finding per region × check, SKIP included.
    assert_eq!(findings.len(), finding_count(&report));
    assert_eq!(findings.len(), 22);
    assert_asff_valid(findings);
    assert!(
        findings
            .iter()
            .any(|f| f["Compliance"]["Status"] == "NOT_AVAILABLE"),
        "SKIP findings are exported as NOT_AVAILABLE"
    );
    let ids: Vec<&str> = findings.iter().map(|f| f["Id"].as_str().unwrap()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "ASFF Ids are unique");
    assert!(ids.contains(
        &"bedrock-logging-operator/123456789012/us-east-1/golden/bedrock_model_invocation_logging_enabled"
    ));
    // Stable: a later run (another time) produces the same Ids, so a re-import updates.
    let later = to_asff(&report, "2025-06-30T12:34:56Z", "aws");
    let later_ids: Vec<&str> = later
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["Id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, later_ids, "ASFF Ids are stable across runs");
    // A bucket check points at the bucket; logging itself is an account-level setting.
    let bucket = findings
        .iter()
        .find(|f| f["GeneratorId"] == "bedrocklogging_s3_public_access_blocked")
        .unwrap();
    assert_eq!(bucket["Resources"][0]["Type"], "AwsS3Bucket");
    let logging = findings
        .iter()
        .find(|f| f["GeneratorId"] == "bedrock_model_invocation_logging_enabled")
        .unwrap();
    assert_eq!(logging["Resources"][0]["Type"], "AwsAccount");
    assert_eq!(logging["Resources"][0]["Id"], "AWS::::Account:123456789012");

    // Long messages are cut to the documented limits; the China partition is used.
    let hostile = to_asff(&hostile_report(), FIXED_NOW, "aws-cn");
    let hostile = hostile.as_array().unwrap();
    assert_eq!(hostile.len(), 3);
    assert_asff_valid(hostile);
    assert!(
        hostile[0]["ProductArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws-cn:securityhub:cn-north-1:111122223333:product/")
    );
}

#[tokio::test]
async fn ocsf_report_matches_golden() {
    let report = to_json(&results().await);
    let ocsf = to_ocsf(&report, FIXED_NOW_MS);
    let text = serde_json::to_string_pretty(&ocsf)
        .unwrap()
        .replace(env!("CARGO_PKG_VERSION"), "VERSION")
        + "\n";
    check_golden("check.ocsf.json", &text);
}

#[tokio::test]
async fn ocsf_events_are_compliance_findings_with_the_class_fields() {
    let report = to_json(&results().await);
    let ocsf = to_ocsf(&report, FIXED_NOW_MS);
    let events = ocsf.as_array().unwrap();
    assert_eq!(events.len(), finding_count(&report));
    for e in events {
        let uid = e["finding_info"]["uid"].as_str().unwrap_or("?");
        // Required by the Compliance Finding class (OCSF 1.1.0).
        assert_eq!(e["class_uid"], 2003, "{uid}");
        assert_eq!(e["category_uid"], 2, "{uid}");
        assert_eq!(e["activity_id"], 1, "{uid}");
        assert_eq!(e["type_uid"], 200301, "{uid}");
        assert_eq!(e["time"], FIXED_NOW_MS, "{uid}");
        let severity_id = e["severity_id"].as_i64().unwrap();
        assert!((1..=5).contains(&severity_id), "{uid}: severity_id");
        assert_eq!(e["metadata"]["version"], "1.1.0", "{uid}");
        assert_eq!(
            e["metadata"]["product"]["name"], "bedrock-logging-operator",
            "{uid}"
        );
        assert_eq!(
            e["metadata"]["product"]["vendor_name"], "bedrock-logging-operator",
            "{uid}"
        );
        assert!(e["metadata"]["product"]["version"].is_string(), "{uid}");
        let check = e["metadata"]["event_code"].as_str().unwrap();
        assert!(!e["finding_info"]["title"].as_str().unwrap().is_empty());
        assert!(e["finding_info"]["desc"].is_string());
        assert!(e["finding_info"]["types"].is_array());
        let compliance = &e["compliance"];
        let status_id = compliance["status_id"].as_i64().unwrap();
        assert!(
            [0, 1, 2, 3, 99].contains(&status_id),
            "{uid}: compliance.status_id"
        );
        assert!(compliance["status"].is_string(), "{uid}");
        assert_eq!(
            compliance["requirements"],
            serde_json::json!([check]),
            "{uid}"
        );
        assert!(
            !compliance["standards"].as_array().unwrap().is_empty(),
            "{uid}: compliance.standards is required"
        );
        let expected = match e["status_code"].as_str().unwrap() {
            "PASS" => 1,
            "WARN" => 2,
            "FAIL" => 3,
            _ => 99,
        };
        assert_eq!(status_id, expected, "{uid}");
        assert!(e["status_id"].is_i64() && e["status"].is_string(), "{uid}");
        assert_eq!(e["cloud"]["provider"], "AWS", "{uid}");
        assert_eq!(e["cloud"]["account"]["uid"], "123456789012", "{uid}");
        assert!(e["cloud"]["region"].is_string(), "{uid}");
        let resources = e["resources"].as_array().unwrap();
        assert!(!resources.is_empty(), "{uid}");
        for r in resources {
            assert!(r["uid"].is_string() && r["type"].is_string(), "{uid}");
            assert_eq!(r["region"], e["cloud"]["region"], "{uid}");
            assert_eq!(r["cloud_partition"], "aws", "{uid}");
        }
        assert!(e["message"].is_string(), "{uid}");
    }
    // The same stable ids as the ASFF findings.
    let asff = to_asff(&report, FIXED_NOW, "aws");
    let asff_ids: Vec<&str> = asff
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["Id"].as_str().unwrap())
        .collect();
    let ocsf_ids: Vec<&str> = events
        .iter()
        .map(|e| e["finding_info"]["uid"].as_str().unwrap())
        .collect();
    assert_eq!(asff_ids, ocsf_ids);
}

#[tokio::test]
async fn html_report_matches_golden() {
    let report = to_json(&results().await);
    let html = to_html(&report, FIXED_NOW).replace(env!("CARGO_PKG_VERSION"), "VERSION");
    check_golden("check.html", &html);
}

#[tokio::test]
async fn html_report_is_self_contained_escaped_and_has_one_cell_per_region_and_check() {
    let report = to_json(&results().await);
    let html = to_html(&report, FIXED_NOW);
    assert!(html.starts_with("<!DOCTYPE html>"));
    for external in [
        "src=\"http://",
        "src=\"https://",
        "src=\"//",
        "href=\"http://",
        "href=\"https://",
        "href=\"//",
        "<script",
        "<link",
        "@import",
        "url(",
    ] {
        assert!(
            !html.contains(external),
            "the page must be self-contained, found {external}"
        );
    }
    // One cell per region × check (2 regions × 11 checks).
    assert_eq!(
        html.matches("<td class=\"cell ").count(),
        finding_count(&report)
    );
    assert_eq!(html.matches("<td class=\"cell ").count(), 22);
    assert!(html.contains("0/2 regions compliant"));
    assert!(html.contains(FIXED_NOW));
    assert!(html.contains("123456789012"));
    assert!(html.contains("golden"));
    // Every failing cell's message (the fix) is on the page.
    assert!(html.contains(
        "model invocation logging is off in eu-west-1: apply the policy (Enforce) to enable it"
    ));
    assert!(html.contains("class=\"cell fail\""));
    assert!(html.contains("class=\"cell skip\""));

    // Strings from the report are escaped: no `<` of a message reaches the page as markup.
    let hostile = to_html(&hostile_report(), FIXED_NOW);
    assert!(!hostile.contains("<script"), "a message became markup");
    assert!(
        hostile.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;")
    );
    assert!(!hostile.contains("p<b>1</b>") && hostile.contains("p&lt;b&gt;1&lt;/b&gt;"));
    assert!(!hostile.contains("throttled <again>") && hostile.contains("throttled &lt;again&gt;"));
    assert!(
        !hostile.contains("bucket <b> created") && hostile.contains("bucket &lt;b&gt; created")
    );
    assert!(hostile.contains("policies/&quot;x&quot;.yaml"));
    // 2 regions × 2 checks, the check missing in cn-northwest-1 included.
    assert_eq!(hostile.matches("<td class=\"cell ").count(), 4);
    assert!(hostile.contains("class=\"cell warn\""));
    assert!(hostile.contains("class=\"cell none\""));
    assert!(hostile.contains("1/2 regions compliant"));
}
