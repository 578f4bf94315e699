//! Benchmark (prints figures, asserts nothing about time): converge an empty account to
//! compliant against the local AWS emulator for 1 and 16 regions, then measure a steady-state
//! pass: wall time, write calls and region-scoped read calls per region (moto's recorder).
//!
//! Run: `make bench` (or `cargo bench --profile dev --bench converge`).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use blo::api::BedrockLoggingPolicySpec;
use blo::api::validate_file::validate_value;
use blo::engine::{EngineOptions, PolicyInput, run_policy};

const REGIONS: [&str; 16] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-south-1",
    "ca-central-1",
    "sa-east-1",
];
const RUNS: usize = 5;

fn spec(regions: &[&str]) -> BedrockLoggingPolicySpec {
    let yaml = format!(
        "apiVersion: bedrocklogging.io/v1alpha1\nkind: BedrockLoggingPolicy\nmetadata: {{name: bench}}\nspec:\n  regions: [{}]\n  kmsKey: {{create: {{alias: alias/bench}}}}\n  s3: {{bucketName: \"bench-logs-{{accountId}}-{{region}}\", keyPrefix: bedrock}}\n  cloudWatch:\n    logGroupName: /aws/bedrock/bench\n    retentionInDays: 30\n    largeDataDelivery: {{bucketName: \"bench-large-{{accountId}}-{{region}}\"}}\n",
        regions.join(", ")
    );
    let v: serde_json::Value = serde_yaml::from_str(&yaml).unwrap();
    serde_json::from_value(validate_value(&v).unwrap()["spec"].clone()).unwrap()
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    format!(
        "median={:.3}s min={:.3}s max={:.3}s (n={})",
        v[v.len() / 2].as_secs_f64(),
        v[0].as_secs_f64(),
        v[v.len() - 1].as_secs_f64(),
        v.len()
    )
}

#[tokio::main]
async fn main() {
    let opts = EngineOptions {
        dry_run: false,
        region_concurrency: 16,
        permission_retry: Duration::from_secs(150),
        consistency_retry: Duration::from_secs(5),
        ..EngineOptions::default()
    };
    let none = BTreeMap::new();
    let prev = BTreeMap::new();
    for n in [1usize, 16] {
        let s = spec(&REGIONS[..n]);
        let input = PolicyInput {
            name: "bench",
            spec: &s,
            conflicts: &none,
            previous: &prev,
            permission_grace: false,
        };
        let mut converge = Vec::new();
        let mut steady = Vec::new();
        let mut reads_per_region = 0.0;
        let mut global_reads = 0;
        let mut steady_writes = 0;
        for _ in 0..RUNS {
            let (moto, _guard) = common::fresh().await;
            let cloud = moto.cloud().await;
            let t = Instant::now();
            let report = run_policy(cloud.clone(), &input, &opts).await;
            converge.push(t.elapsed());
            assert!(report.all_compliant(), "bench policy did not converge");
            moto.start_recording();
            let t = Instant::now();
            let report = run_policy(cloud, &input, &opts).await;
            steady.push(t.elapsed());
            assert!(report.all_compliant());
            let calls = moto.recorded();
            steady_writes += common::writes(&calls).len();
            let regional = calls
                .iter()
                .filter(|c| c.service != "iam" && c.service != "sts")
                .count();
            reads_per_region = regional as f64 / n as f64;
            global_reads = calls.len() - regional;
        }
        println!("regions={n} converge_empty_account: {}", stats(converge));
        println!("regions={n} steady_state_pass: {}", stats(steady));
        println!("regions={n} steady_state_writes_total={steady_writes} (over {RUNS} runs)");
        println!(
            "regions={n} steady_state_region_scoped_reads_per_region={reads_per_region:.1} global_reads_per_policy={global_reads}"
        );
    }
}
