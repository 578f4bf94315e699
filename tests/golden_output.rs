//! Golden files for the machine-readable reports (`check -o json`, `-o sarif`) and the table:
//! the schema is a contract, so any change to it shows up as a diff here.
//! Regenerate with `BLO_UPDATE_GOLDEN=1 cargo test --test golden_output` and review the diff.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use blo::api::{BedrockLoggingPolicySpec, validate_file::validate_value};
use blo::cli::output::{PolicyResult, Verb, to_json, to_sarif, to_table};
use blo::cloud::BucketEncryption;
use blo::cloud::fake::{FakeBucket, FakeCloud};
use blo::engine::{EngineOptions, PolicyInput, run_policy};

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
