//! Fault injection: with 20% of AWS calls failing (503s, 500s after the write went through,
//! timeouts, throttling) the engine still converges within a few passes, with exactly one key,
//! bucket, log group and role per region, and no foreign policy statement lost.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use blo::api::validate_file::validate_value;
use blo::cloud::sdk::{SdkCloud, SdkOptions};
use blo::engine::{EngineOptions, PolicyInput, run_policy};
use common::*;
use rand::{Rng, SeedableRng, rngs::StdRng};

#[derive(Debug, Default)]
struct FaultStats {
    calls: AtomicUsize,
    unavailable: AtomicUsize,
    lost_responses: AtomicUsize,
    timeouts: AtomicUsize,
    throttled: AtomicUsize,
}

#[derive(Debug, Clone)]
struct FaultyClient {
    inner: SharedHttpClient,
    rng: Arc<Mutex<StdRng>>,
    rate: f64,
    stats: Arc<FaultStats>,
}

#[derive(Debug)]
struct FaultyConnector {
    inner: SharedHttpConnector,
    rng: Arc<Mutex<StdRng>>,
    rate: f64,
    stats: Arc<FaultStats>,
}

impl HttpClient for FaultyClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultyConnector {
            inner: self.inner.http_connector(settings, components),
            rng: self.rng.clone(),
            rate: self.rate,
            stats: self.stats.clone(),
        })
    }
}

/// Throttling as each protocol really reports it, so the SDK sees what it would see from AWS:
/// JSON services (KMS, Logs, CloudTrail, Bedrock) a `ThrottlingException`, query services
/// (IAM, STS) an XML `Throttling` error, S3 a `503 SlowDown`.
fn throttle_like_aws(request: &HttpRequest) -> HttpResponse {
    let json_target = request.headers().get("x-amz-target").is_some();
    let query = request
        .headers()
        .get("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let bedrock = request.uri().contains("/logging/modelinvocations");
    if json_target || bedrock {
        response(
            400,
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        )
    } else if query {
        response(
            400,
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>",
        )
    } else {
        response(
            503,
            "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
        )
    }
}

fn response(status: u16, body: &str) -> HttpResponse {
    let mut r = HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(body.to_string()),
    );
    if body.starts_with('{') && body.contains("Throttling") {
        r.headers_mut()
            .insert("x-amzn-errortype", "ThrottlingException");
    }
    r
}

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let roll: f64 = self.rng.lock().unwrap().random();
        let slice = self.rate / 4.0;
        let stats = self.stats.clone();
        if roll < slice {
            stats.unavailable.fetch_add(1, Ordering::Relaxed);
            return HttpConnectorFuture::ready(Ok(response(503, "")));
        }
        if roll < 2.0 * slice {
            stats.timeouts.fetch_add(1, Ordering::Relaxed);
            return HttpConnectorFuture::ready(Err(ConnectorError::timeout(
                "injected timeout".into(),
            )));
        }
        if roll < 3.0 * slice {
            stats.throttled.fetch_add(1, Ordering::Relaxed);
            return HttpConnectorFuture::ready(Ok(throttle_like_aws(&request)));
        }
        let fut = self.inner.call(request);
        if roll < 4.0 * slice {
            // The request reached AWS (the write happened) but the response is lost.
            return HttpConnectorFuture::new(async move {
                let _ = fut.await;
                stats.lost_responses.fetch_add(1, Ordering::Relaxed);
                Ok(response(500, ""))
            });
        }
        fut
    }
}

const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];

#[tokio::test]
async fn converges_under_20_percent_faults_without_duplicates_or_lost_statements() {
    for seed in [20, 7, 2026] {
        let (moto, _g) = fresh().await;
        converge_with_faults(moto, seed).await;
    }
}

async fn converge_with_faults(moto: &Moto, seed: u64) {
    // A foreign statement that must survive.
    let clean = moto.config().await;
    let s3c = moto.s3("us-east-1").await;
    let bucket0 = "faults-logs-123456789012-us-east-1";
    let foreign = moto.bucket_with_foreign_statement(bucket0).await;

    let stats = Arc::new(FaultStats::default());
    let faulty = FaultyClient {
        inner: blo::cloud::sdk::shared_http_client(),
        rng: Arc::new(Mutex::new(StdRng::seed_from_u64(seed))),
        rate: 0.2,
        stats: stats.clone(),
    };
    let cfg = clean
        .to_builder()
        .http_client(SharedHttpClient::new(faulty))
        .build();
    let cloud = Arc::new(SdkCloud::new(
        cfg,
        &SdkOptions {
            max_attempts: 3,
            ..SdkOptions::default()
        },
    ));

    let yaml = format!(
        "apiVersion: bedrocklogging.io/v1alpha1\nkind: BedrockLoggingPolicy\nmetadata: {{name: faults}}\nspec:\n  regions: [{}]\n  kmsKey: {{create: {{alias: alias/faults}}}}\n  s3: {{bucketName: \"faults-logs-{{accountId}}-{{region}}\"}}\n  cloudWatch: {{logGroupName: /aws/bedrock/faults, retentionInDays: 7}}\n",
        REGIONS.join(", ")
    );
    let spec = serde_json::from_value(
        validate_value(&serde_yaml::from_str(&yaml).unwrap()).unwrap()["spec"].clone(),
    )
    .unwrap();
    let none = BTreeMap::new();
    let prev = BTreeMap::new();
    let input = PolicyInput {
        name: "faults",
        spec: &spec,
        conflicts: &none,
        previous: &prev,
        permission_grace: false,
    };
    let opts = EngineOptions {
        dry_run: false,
        region_concurrency: 3,
        permission_retry: Duration::from_secs(2),
        consistency_retry: Duration::from_secs(5),
        ..EngineOptions::default()
    };
    let mut passes = 0;
    loop {
        passes += 1;
        let report = run_policy(cloud.clone(), &input, &opts).await;
        if report.all_compliant() {
            break;
        }
        assert!(
            passes < 40,
            "did not converge in 40 passes: {:#?}",
            report
                .regions
                .iter()
                .map(|r| (r.region.clone(), r.state, r.message()))
                .collect::<Vec<_>>()
        );
    }
    let injected = stats.unavailable.load(Ordering::Relaxed)
        + stats.lost_responses.load(Ordering::Relaxed)
        + stats.timeouts.load(Ordering::Relaxed)
        + stats.throttled.load(Ordering::Relaxed);
    eprintln!(
        "seed {seed}: converged in {passes} passes; {} HTTP calls, {injected} faults injected ({stats:?})",
        stats.calls.load(Ordering::Relaxed)
    );
    assert!(injected > 10, "the faults were really injected: {stats:?}");

    for region in REGIONS {
        let kms_c = moto.kms(region).await;
        assert_eq!(
            kms_c.list_keys().send().await.unwrap().keys().len(),
            1,
            "{region}: exactly one key"
        );
        let aliases = kms_c.list_aliases().send().await.unwrap();
        assert_eq!(
            aliases
                .aliases()
                .iter()
                .filter(|a| a.alias_name() == Some("alias/faults"))
                .count(),
            1
        );
        let lg = moto.logs(region).await;
        assert_eq!(
            lg.describe_log_groups()
                .send()
                .await
                .unwrap()
                .log_groups()
                .len(),
            1,
            "{region}: exactly one log group"
        );
    }
    let buckets = s3c.list_buckets().send().await.unwrap();
    assert_eq!(buckets.buckets().len(), 3, "one bucket per region");
    let pol: serde_json::Value = serde_json::from_str(
        s3c.get_bucket_policy()
            .bucket(bucket0)
            .send()
            .await
            .unwrap()
            .policy()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(pol["Statement"][0], foreign, "foreign statement kept");
    let iam_c = aws_sdk_iam::Client::new(&clean);
    let roles = iam_c.list_roles().send().await.unwrap();
    assert_eq!(
        roles
            .roles()
            .iter()
            .filter(|r| r.role_name() == "BedrockModelInvocationLoggingRole")
            .count(),
        1
    );
}
