//! Mocked-apiserver scenarios (the `ApiServerVerifier` pattern of kube-rs' controller-rs): each
//! test runs one reconcile against a fake AWS and asserts the exact Kubernetes requests made.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};

use super::reconcile::reconcile;
use super::{Context, FINALIZER};
use crate::api::BedrockLoggingPolicy;
use crate::cloud::fake::{FakeCloud, FakeCloudFactory};
use crate::cloud::{CloudWatchDestination, LoggingConfig, S3Destination};
use crate::engine::EngineOptions;
use crate::engine::status::build_status;

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

const ACCOUNT: &str = "123456789012";

fn policy(yaml_spec: &str) -> BedrockLoggingPolicy {
    let text = format!(
        "apiVersion: bedrocklogging.io/v1alpha1\nkind: BedrockLoggingPolicy\nmetadata:\n  name: p\n  uid: 5d3a2c1e-0000-0000-0000-000000000001\n  resourceVersion: \"7\"\n  generation: 3\n  creationTimestamp: \"2026-11-01T00:00:00Z\"\n  finalizers: [\"{FINALIZER}\"]\nspec:\n{yaml_spec}"
    );
    let v: Value = serde_yaml::from_str(&text).unwrap();
    let v = crate::api::validate_file::validate_value(&v).unwrap_or_else(|e| panic!("{e:?}"));
    serde_json::from_value(v).unwrap()
}

const S3_ONLY: &str = "  regions: [us-east-1, eu-west-1]\n  kmsKey: {create: {alias: alias/blo}}\n  s3: {bucketName: \"logs-{accountId}-{region}\"}\n";

struct Scenario {
    ctx: Arc<Context>,
    handle: Handle,
    fake: Arc<FakeCloud>,
}

fn scenario(fake: Arc<FakeCloud>, known: Vec<BedrockLoggingPolicy>) -> Scenario {
    let factory = FakeCloudFactory {
        default: fake.clone(),
        by_role: HashMap::new(),
    };
    scenario_with(factory, known, crate::engine::org_status::Shard::ALL)
}

fn scenario_with(
    factory: FakeCloudFactory,
    known: Vec<BedrockLoggingPolicy>,
    shard: crate::engine::org_status::Shard,
) -> Scenario {
    let fake = factory.default.clone();
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let ctx = Arc::new(Context {
        client,
        factory: Arc::new(factory),
        recorder: None,
        metrics: Arc::default(),
        engine: EngineOptions {
            dry_run: false,
            region_concurrency: 4,
            permission_retry: Duration::from_secs(5),
            org_call_interval: Duration::ZERO,
            ..EngineOptions::default()
        },
        policies: {
            let known: Vec<Arc<BedrockLoggingPolicy>> = known.into_iter().map(Arc::new).collect();
            Box::new(move || known.clone())
        },
        attempts: Mutex::new(HashMap::new()),
        due: Mutex::new(HashMap::new()),
        operator_account: tokio::sync::OnceCell::new(),
        permission_clock: Mutex::new(HashMap::new()),
        reports: None,
        reports_written: Mutex::new(HashMap::new()),
        export_securityhub: false,
        exported: Mutex::new(HashMap::new()),
        tamper: crate::controller::tamper::TamperHub::new().0,
        shard,
        org_members: Mutex::new(HashMap::new()),
        shards_seen: Mutex::new(HashMap::new()),
        org_previous: Mutex::new(HashMap::new()),
        org_progress_every: crate::controller::organization::PROGRESS_EVERY,
    });
    Scenario { ctx, handle, fake }
}

/// Receive the next request, check method and path, answer with `reply`, return the body.
async fn expect(handle: &mut Handle, method: &str, path: &str, reply: Value) -> Value {
    let (req, send) = tokio::time::timeout(Duration::from_secs(5), handle.next_request())
        .await
        .unwrap_or_else(|_| panic!("no request arrived; expected {method} {path}"))
        .expect("service not called");
    assert_eq!(req.method().as_str(), method, "{}", req.uri());
    assert!(
        req.uri().to_string().contains(path),
        "expected {path}, got {}",
        req.uri()
    );
    let bytes = req.into_body().collect_bytes().await.unwrap();
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    send.send_response(
        Response::builder()
            .body(Body::from(serde_json::to_vec(&reply).unwrap()))
            .unwrap(),
    );
    body
}

async fn expect_nothing(handle: &mut Handle) {
    assert!(
        tokio::time::timeout(Duration::from_millis(200), handle.next_request())
            .await
            .is_err(),
        "no Kubernetes request was expected"
    );
}

/// Converge `p` on the fake AWS and give it the status that pass produced.
async fn converge_and_record_status(
    fake: &Arc<FakeCloud>,
    p: &mut BedrockLoggingPolicy,
    engine: &EngineOptions,
) {
    let input = crate::engine::PolicyInput {
        name: "p",
        spec: &p.spec,
        conflicts: &std::collections::BTreeMap::<String, String>::new(),
        previous: &Default::default(),
        permission_grace: false,
    };
    let report = crate::engine::run_policy(fake.clone(), &input, engine).await;
    let at = k8s_openapi::jiff::Timestamp::from_second(1_800_000_000).unwrap();
    p.status = Some(build_status(&report, p.metadata.generation, at, None));
}

const POLICY_PATH: &str = "/apis/bedrocklogging.io/v1alpha1/bedrockloggingpolicies/p";

fn condition<'a>(status: &'a Value, t: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == t)
        .unwrap()
}

#[tokio::test]
async fn adds_the_finalizer_first() {
    let mut p = policy(S3_ONLY);
    p.metadata.finalizers = None;
    let mut s = scenario(Arc::new(FakeCloud::new(ACCOUNT)), vec![]);
    let task = tokio::spawn(reconcile(Arc::new(p.clone()), s.ctx.clone()));
    let mut with = serde_json::to_value(&p).unwrap();
    with["metadata"]["finalizers"] = json!([FINALIZER]);
    let patch = expect(&mut s.handle, "PATCH", POLICY_PATH, with).await;
    assert!(patch.to_string().contains(FINALIZER), "{patch}");
    task.await.unwrap().unwrap();
    assert!(
        s.fake.calls().is_empty(),
        "no AWS call before the finalizer is in place"
    );
}

#[tokio::test]
async fn compliant_policy_gets_a_ready_status_by_server_side_apply() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let p = policy(S3_ONLY);
    let mut s = scenario(fake, vec![]);
    let task = tokio::spawn(reconcile(Arc::new(p.clone()), s.ctx.clone()));
    let body = expect(
        &mut s.handle,
        "PATCH",
        &format!("{POLICY_PATH}/status?&force=true&fieldManager=bedrock-logging-operator"),
        serde_json::to_value(&p).unwrap(),
    )
    .await;
    task.await.unwrap().unwrap();
    assert_eq!(body["apiVersion"], "bedrocklogging.io/v1alpha1");
    assert_eq!(body["kind"], "BedrockLoggingPolicy");
    let st = &body["status"];
    assert_eq!(st["observedGeneration"], 3);
    assert_eq!(st["accountId"], ACCOUNT);
    assert_eq!(st["compliantRegions"], 2);
    assert_eq!(st["totalRegions"], 2);
    assert_eq!(st["regionSummary"], "2/2");
    assert_eq!(condition(st, "Ready")["status"], "True");
    assert_eq!(condition(st, "Ready")["reason"], "Compliant");
    assert_eq!(condition(st, "Ready")["message"], "2/2 regions compliant");
    assert_eq!(condition(st, "Reconciling")["status"], "False");
    assert_eq!(condition(st, "Stalled")["status"], "False");
    let r = &st["regions"][0];
    assert_eq!(r["state"], "Compliant");
    assert!(
        r["kmsKeyArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:kms:us-east-1:123456789012:key/")
    );
    assert_eq!(r["bucketArn"], "arn:aws:s3:::logs-123456789012-us-east-1");
    assert!(r["lastChanges"].as_array().unwrap().iter().any(|c| {
        c.as_str()
            .unwrap()
            .contains("Bedrock model invocation logging enabled")
    }));
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "bedrock_model_invocation_logging_enabled"
                && f["status"] == "PASS")
    );
}

#[tokio::test]
async fn audit_policy_reports_non_compliance_and_writes_nothing() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let p = policy(&format!("  mode: Audit\n{S3_ONLY}"));
    let mut s = scenario(fake.clone(), vec![]);
    let task = tokio::spawn(reconcile(Arc::new(p.clone()), s.ctx.clone()));
    let body = expect(
        &mut s.handle,
        "PATCH",
        &format!("{POLICY_PATH}/status"),
        serde_json::to_value(&p).unwrap(),
    )
    .await;
    task.await.unwrap().unwrap();
    assert!(fake.write_calls().is_empty());
    let st = &body["status"];
    assert_eq!(condition(st, "Ready")["status"], "False");
    assert_eq!(condition(st, "Ready")["reason"], "NonCompliant");
    assert!(
        condition(st, "Ready")["message"]
            .as_str()
            .unwrap()
            .contains("bedrock_model_invocation_logging_enabled")
    );
    assert_eq!(condition(st, "Stalled")["status"], "False");
    assert_eq!(condition(st, "Reconciling")["status"], "False");
    assert_eq!(st["regions"][0]["state"], "NonCompliant");
    assert_eq!(st["regionSummary"], "0/2");
}

#[tokio::test]
async fn unfixable_spec_is_stalled_with_the_field_named() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let p = policy(
        "  regions: [us-east-1]\n  kmsKey: {create: {alias: alias/blo}}\n  s3: {bucketName: \"absent-{region}\", create: false}\n",
    );
    let mut s = scenario(fake.clone(), vec![]);
    let task = tokio::spawn(reconcile(Arc::new(p.clone()), s.ctx.clone()));
    let body = expect(
        &mut s.handle,
        "PATCH",
        &format!("{POLICY_PATH}/status"),
        serde_json::to_value(&p).unwrap(),
    )
    .await;
    task.await.unwrap().unwrap();
    assert!(fake.write_calls().is_empty(), "nothing half-written");
    let st = &body["status"];
    assert_eq!(condition(st, "Stalled")["status"], "True");
    assert_eq!(condition(st, "Stalled")["reason"], "InvalidSpec");
    assert!(
        condition(st, "Stalled")["message"]
            .as_str()
            .unwrap()
            .contains("spec.s3.bucketName")
    );
    assert_eq!(condition(st, "Ready")["status"], "False");
    assert_eq!(condition(st, "Ready")["reason"], "InvalidSpec");
    assert_eq!(st["regions"][0]["state"], "Error");
}

#[tokio::test]
async fn unchanged_status_is_not_written_again() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let mut p = policy(S3_ONLY);
    // Converge once, and record the status that pass produced.
    let first = scenario(fake.clone(), vec![]);
    converge_and_record_status(&fake, &mut p, &first.ctx.engine).await;
    fake.reset_calls();
    let mut s = scenario(fake.clone(), vec![]);
    let action = reconcile(Arc::new(p.clone()), s.ctx.clone()).await.unwrap();
    expect_nothing(&mut s.handle).await;
    assert!(fake.write_calls().is_empty());
    assert_eq!(
        action,
        kube::runtime::controller::Action::requeue(Duration::from_secs(300)),
        "resync at spec.resyncInterval"
    );
}

fn deleting(mut p: BedrockLoggingPolicy) -> BedrockLoggingPolicy {
    p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::from_second(1_800_000_000).unwrap(),
    ));
    p
}

fn our_logging() -> LoggingConfig {
    LoggingConfig {
        s3: Some(S3Destination {
            bucket: "logs-123456789012-us-east-1".into(),
            prefix: None,
        }),
        cloud_watch: None,
        text: Some(true),
        image: Some(true),
        embedding: Some(true),
        video: Some(true),
        audio: Some(true),
    }
}

#[tokio::test]
async fn deletion_with_disable_turns_logging_off_then_releases_the_finalizer() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    fake.state
        .lock()
        .unwrap()
        .logging
        .insert("us-east-1".into(), our_logging());
    let other = LoggingConfig {
        cloud_watch: Some(CloudWatchDestination {
            log_group: "/someone/else".into(),
            role_arn: "r".into(),
            large_data: None,
        }),
        ..Default::default()
    };
    fake.state
        .lock()
        .unwrap()
        .logging
        .insert("eu-west-1".into(), other.clone());
    let p = deleting(policy(&format!("  deletionPolicy: Disable\n{S3_ONLY}")));
    let mut s = scenario(fake.clone(), vec![]);
    let task = tokio::spawn(reconcile(Arc::new(p.clone()), s.ctx.clone()));
    let mut released = serde_json::to_value(&p).unwrap();
    released["metadata"]["finalizers"] = json!([]);
    let patch = expect(&mut s.handle, "PATCH", POLICY_PATH, released).await;
    assert!(patch.to_string().contains("remove"), "{patch}");
    task.await.unwrap().unwrap();
    let st = fake.state.lock().unwrap();
    assert!(
        !st.logging.contains_key("us-east-1"),
        "our configuration is deleted"
    );
    assert_eq!(
        st.logging.get("eu-west-1"),
        Some(&other),
        "a configuration that is not ours is left alone"
    );
    assert!(!fake.calls().iter().any(|c| c.contains("DeleteBucket")
        || c.contains("ScheduleKeyDeletion")
        || c.contains("DeleteLogGroup")));
}

#[tokio::test]
async fn deletion_with_retain_leaves_aws_untouched() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    fake.state
        .lock()
        .unwrap()
        .logging
        .insert("us-east-1".into(), our_logging());
    let p = deleting(policy(S3_ONLY));
    let mut s = scenario(fake.clone(), vec![]);
    let task = tokio::spawn(reconcile(Arc::new(p.clone()), s.ctx.clone()));
    let mut released = serde_json::to_value(&p).unwrap();
    released["metadata"]["finalizers"] = json!([]);
    expect(&mut s.handle, "PATCH", POLICY_PATH, released).await;
    task.await.unwrap().unwrap();
    assert!(fake.calls().is_empty(), "Retain makes no AWS call at all");
    assert!(fake.state.lock().unwrap().logging.contains_key("us-east-1"));
}

#[tokio::test]
async fn deletion_while_aws_is_unreachable_keeps_the_finalizer() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    fake.inject(crate::cloud::fake::Fault {
        operation: "GetCallerIdentity",
        kind: crate::cloud::ErrorKind::Unavailable,
        message: "connection refused".into(),
        times: 10,
        region: None,
    });
    let p = deleting(policy(&format!("  deletionPolicy: Disable\n{S3_ONLY}")));
    let mut s = scenario(fake, vec![]);
    let res = reconcile(Arc::new(p), s.ctx.clone()).await;
    assert!(
        res.is_err(),
        "the error goes to error_policy (backoff requeue)"
    );
    expect_nothing(&mut s.handle).await;
}

#[tokio::test]
async fn the_younger_of_two_policies_reports_conflict_and_stays_out() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let mut older = policy(S3_ONLY);
    older.metadata.name = Some("older".into());
    older.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).unwrap(),
    ));
    let p = policy(
        "  regions: [eu-west-1, us-west-2]\n  kmsKey: {create: {alias: alias/blo2}}\n  s3: {bucketName: \"other-{accountId}-{region}\"}\n",
    );
    let mut s = scenario(fake.clone(), vec![older, p.clone()]);
    let task = tokio::spawn(reconcile(Arc::new(p.clone()), s.ctx.clone()));
    let body = expect(
        &mut s.handle,
        "PATCH",
        &format!("{POLICY_PATH}/status"),
        serde_json::to_value(&p).unwrap(),
    )
    .await;
    let action = task.await.unwrap().unwrap();
    let st = &body["status"];
    let eu = st["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "eu-west-1")
        .unwrap();
    assert_eq!(eu["state"], "Conflict");
    assert!(eu["message"].as_str().unwrap().contains("older"));
    let usw = st["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "us-west-2")
        .unwrap();
    assert_eq!(usw["state"], "Compliant");
    assert_eq!(condition(st, "Stalled")["reason"], "Conflict");
    assert_eq!(fake.calls_in("eu-west-1"), 0);
    assert_eq!(
        action,
        kube::runtime::controller::Action::requeue(Duration::from_secs(60)),
        "conflicts are re-checked every minute"
    );
}

#[tokio::test]
async fn drift_correction_emits_one_event_per_change() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let mut p = policy(S3_ONLY);
    let base = scenario(fake.clone(), vec![]);
    converge_and_record_status(&fake, &mut p, &base.ctx.engine).await;
    // Someone switches logging off in one region.
    fake.state.lock().unwrap().logging.remove("eu-west-1");

    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let recorder = kube::runtime::events::Recorder::new(
        client.clone(),
        kube::runtime::events::Reporter {
            controller: "bedrock-logging-operator".into(),
            instance: None,
        },
    );
    let ctx = Arc::new(Context {
        client,
        factory: Arc::new(FakeCloudFactory {
            default: fake.clone(),
            by_role: HashMap::new(),
        }),
        recorder: Some(recorder),
        metrics: Arc::default(),
        engine: base.ctx.engine.clone(),
        policies: Box::new(Vec::new),
        attempts: Mutex::new(HashMap::new()),
        due: Mutex::new(HashMap::new()),
        operator_account: tokio::sync::OnceCell::new(),
        permission_clock: Mutex::new(HashMap::new()),
        reports: None,
        reports_written: Mutex::new(HashMap::new()),
        export_securityhub: false,
        exported: Mutex::new(HashMap::new()),
        tamper: crate::controller::tamper::TamperHub::new().0,
        shard: crate::engine::org_status::Shard::ALL,
        org_members: Mutex::new(HashMap::new()),
        shards_seen: Mutex::new(HashMap::new()),
        org_previous: Mutex::new(HashMap::new()),
        org_progress_every: crate::controller::organization::PROGRESS_EVERY,
    });
    let task = tokio::spawn(reconcile(Arc::new(p.clone()), ctx.clone()));
    let status = expect(
        &mut handle,
        "PATCH",
        &format!("{POLICY_PATH}/status"),
        serde_json::to_value(&p).unwrap(),
    )
    .await;
    let eu = status["status"]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "eu-west-1")
        .unwrap()
        .clone();
    assert_eq!(eu["state"], "Compliant");
    assert_eq!(
        eu["lastChanges"],
        json!(["Bedrock model invocation logging enabled"])
    );
    let event = expect(&mut handle, "POST", "/apis/events.k8s.io/v1/namespaces/default/events", json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}, "eventTime": null})).await;
    assert_eq!(event["reason"], "DriftCorrected");
    assert_eq!(event["type"], "Normal");
    assert_eq!(
        event["note"],
        "eu-west-1: Bedrock model invocation logging enabled"
    );
    assert_eq!(event["regarding"]["name"], "p");
    task.await.unwrap().unwrap();
    expect_nothing(&mut handle).await;
    let metrics = ctx.metrics.encode();
    assert!(
        metrics.contains("bedrock_logging_drift_corrections_total{policy=\"p\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_real_kube_client_can_be_built() {
    // `run` builds a real client (TLS stack included); this panicked once when two rustls
    // crypto backends were compiled in and none was chosen.
    crate::install_crypto_provider();
    let config = kube::Config::new("https://127.0.0.1:1".parse().unwrap());
    let client = Client::try_from(config).expect("client");
    let err = client
        .apiserver_version()
        .await
        .expect_err("nothing listens on port 1");
    assert!(!err.to_string().is_empty());
}

#[tokio::test]
async fn our_own_status_write_does_not_trigger_another_aws_pass() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let p = policy(S3_ONLY);
    let mut s = scenario(fake.clone(), vec![]);
    let task = tokio::spawn(reconcile(Arc::new(p.clone()), s.ctx.clone()));
    expect(
        &mut s.handle,
        "PATCH",
        &format!("{POLICY_PATH}/status"),
        serde_json::to_value(&p).unwrap(),
    )
    .await;
    task.await.unwrap().unwrap();
    fake.reset_calls();
    // The watch delivers the object again (status changed, same generation).
    let action = reconcile(Arc::new(p.clone()), s.ctx.clone()).await.unwrap();
    assert!(
        fake.calls().is_empty(),
        "no AWS call before the next pass is due"
    );
    expect_nothing(&mut s.handle).await;
    assert_ne!(action, kube::runtime::controller::Action::await_change());
    // A spec change (new generation) is handled at once.
    let mut changed = p.clone();
    changed.metadata.generation = Some(4);
    let task = tokio::spawn(reconcile(Arc::new(changed.clone()), s.ctx.clone()));
    expect(
        &mut s.handle,
        "PATCH",
        &format!("{POLICY_PATH}/status"),
        serde_json::to_value(&changed).unwrap(),
    )
    .await;
    task.await.unwrap().unwrap();
    assert!(!fake.calls().is_empty());
}

/// Defect seen on a real API server: the owner already has `status.accountId`, the newcomer has
/// no status yet. Its very first pass must write nothing in the owner's region, whether it
/// reaches the account through the operator's credentials or through a role ARN.
#[tokio::test]
async fn a_newcomer_without_status_writes_nothing_in_the_owners_region_on_its_first_pass() {
    for via_role in [false, true] {
        let fake = Arc::new(FakeCloud::new(ACCOUNT));
        let mut owner = policy(S3_ONLY);
        owner.metadata.name = Some("owner".into());
        owner.metadata.creation_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).unwrap(),
            ));
        owner.status = Some(crate::api::BedrockLoggingPolicyStatus {
            account_id: Some(ACCOUNT.into()),
            ..Default::default()
        });
        let role = format!("arn:aws:iam::{ACCOUNT}:role/blo");
        let account = if via_role {
            format!("  account: {{roleArn: \"{role}\"}}\n")
        } else {
            String::new()
        };
        let p = policy(&format!(
            "  regions: [us-east-1]\n{account}  kmsKey: {{create: {{alias: alias/newcomer}}}}\n  s3: {{bucketName: \"newcomer-{{accountId}}-{{region}}\"}}\n"
        ));
        let mut s = scenario(fake.clone(), vec![owner, p.clone()]);
        if via_role {
            let ctx = Arc::get_mut(&mut s.ctx).expect("sole owner");
            ctx.factory = Arc::new(FakeCloudFactory {
                default: fake.clone(),
                by_role: HashMap::from([(role.clone(), fake.clone())]),
            });
        }
        let task = tokio::spawn(reconcile(Arc::new(p.clone()), s.ctx.clone()));
        let body = expect(
            &mut s.handle,
            "PATCH",
            &format!("{POLICY_PATH}/status"),
            serde_json::to_value(&p).unwrap(),
        )
        .await;
        task.await.unwrap().unwrap();
        let st = &body["status"];
        assert_eq!(
            st["regions"][0]["state"], "Conflict",
            "via role: {via_role}"
        );
        assert!(
            st["regions"][0]["message"]
                .as_str()
                .unwrap()
                .contains("owner")
        );
        assert_eq!(condition(st, "Stalled")["reason"], "Conflict");
        assert!(
            fake.write_calls().is_empty(),
            "the newcomer wrote {:?} (via role: {via_role})",
            fake.write_calls()
        );
    }
}

/// Defect: an Audit policy with `deletionPolicy: Disable` deleted the account's logging
/// configuration when the CR was deleted. Audit makes no write, deletion included.
#[tokio::test]
async fn deleting_an_audit_policy_never_writes_whatever_its_deletion_policy() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    fake.state
        .lock()
        .unwrap()
        .logging
        .insert("us-east-1".into(), our_logging());
    let p = deleting(policy(&format!(
        "  mode: Audit\n  deletionPolicy: Disable\n{}",
        S3_ONLY
    )));
    let mut s = scenario(fake.clone(), vec![]);
    let task = tokio::spawn(reconcile(Arc::new(p.clone()), s.ctx.clone()));
    let mut released = serde_json::to_value(&p).unwrap();
    released["metadata"]["finalizers"] = json!([]);
    expect(&mut s.handle, "PATCH", POLICY_PATH, released).await;
    task.await.unwrap().unwrap();
    assert!(fake.write_calls().is_empty(), "{:?}", fake.write_calls());
    assert!(
        fake.calls().is_empty(),
        "an Audit deletion makes no AWS call at all"
    );
    assert!(fake.state.lock().unwrap().logging.contains_key("us-east-1"));
}

/// SPEC §4a: one report per policy, owned by it, one result per region × check, written by
/// server-side apply and not again while its content is unchanged. The generated objects are
/// left in target/reports-sample for the packaging tests to validate against the real CRDs.
#[tokio::test]
async fn a_compliance_report_is_applied_once_per_change_for_each_kind() {
    use super::reports::ReportKind;
    for (kind, path, file) in [
        (
            ReportKind::OpenReports,
            "/apis/openreports.io/v1alpha1/clusterreports/p?&force=true&fieldManager=bedrock-logging-operator",
            "clusterreport.json",
        ),
        (
            ReportKind::PolicyReport,
            "/apis/wgpolicyk8s.io/v1alpha2/clusterpolicyreports/p?&force=true&fieldManager=bedrock-logging-operator",
            "clusterpolicyreport.json",
        ),
    ] {
        let fake = Arc::new(FakeCloud::new(ACCOUNT));
        let p = policy(S3_ONLY);
        let mut s = scenario(fake.clone(), vec![]);
        Arc::get_mut(&mut s.ctx).expect("sole owner").reports = Some(kind);
        let task = tokio::spawn(reconcile(Arc::new(p.clone()), s.ctx.clone()));
        expect(
            &mut s.handle,
            "PATCH",
            &format!("{POLICY_PATH}/status"),
            serde_json::to_value(&p).unwrap(),
        )
        .await;
        let report = expect(&mut s.handle, "PATCH", path, json!({})).await;
        task.await.unwrap().unwrap();
        assert_eq!(
            report["metadata"]["ownerReferences"][0]["kind"],
            "BedrockLoggingPolicy"
        );
        assert_eq!(report["metadata"]["ownerReferences"][0]["controller"], true);
        let results = report["results"].as_array().unwrap();
        let checks = crate::engine::findings::CHECKS.len() - 1; // the conditional one is absent
        assert_eq!(results.len(), 2 * checks, "one result per region × check");
        assert!(results.iter().all(|r| r["policy"] == "p"
            && r["source"] == "bedrock-logging-operator"
            && r["properties"]["account"] == ACCOUNT));
        let pass = report["summary"]["pass"].as_u64().unwrap();
        let skip = report["summary"]["skip"].as_u64().unwrap();
        assert_eq!(
            (pass + skip) as usize,
            results.len(),
            "{}",
            report["summary"]
        );
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/reports-sample");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(file), serde_json::to_vec_pretty(&report).unwrap()).unwrap();

        // Same content on the next pass: no report write (and no status write either).
        let mut again = p.clone();
        converge_and_record_status(&fake, &mut again, &s.ctx.engine).await;
        s.ctx.due.lock().unwrap().clear();
        let task = tokio::spawn(reconcile(Arc::new(again.clone()), s.ctx.clone()));
        let mut seen = Vec::new();
        while let Ok(Some((req, send))) =
            tokio::time::timeout(Duration::from_millis(300), s.handle.next_request()).await
        {
            seen.push(req.uri().to_string());
            send.send_response(
                Response::builder()
                    .body(Body::from(serde_json::to_vec(&again).unwrap()))
                    .unwrap(),
            );
        }
        task.await.unwrap().unwrap();
        assert!(
            !seen.iter().any(|u| u.contains("reports/")),
            "the unchanged report was written again: {seen:?}"
        );
    }
}

#[tokio::test]
async fn a_tamper_event_runs_a_pass_before_it_is_due_and_lands_in_status_and_metrics() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let p = policy(&format!(
        "{S3_ONLY}  tamperResponse: {{queueName: blo-tamper}}\n  resyncInterval: 24h\n"
    ));
    let mut s = scenario(fake.clone(), vec![]);
    let task = tokio::spawn(reconcile(Arc::new(p.clone()), s.ctx.clone()));
    let first = expect(
        &mut s.handle,
        "PATCH",
        &format!("{POLICY_PATH}/status"),
        serde_json::to_value(&p).unwrap(),
    )
    .await;
    task.await.unwrap().unwrap();
    assert_eq!(condition(&first["status"], "Ready")["status"], "True");
    let mut p = p;
    p.status = serde_json::from_value(first["status"].clone()).ok();
    // Somebody turns logging off and the listener hands over the event.
    fake.state.lock().unwrap().logging.remove("us-east-1");
    fake.reset_calls();
    let record = crate::api::TamperRecord {
        actor: "arn:aws:iam::123456789012:user/mallory".into(),
        event: "bedrock.amazonaws.com:DeleteModelInvocationLoggingConfiguration".into(),
        time: "2026-12-01T10:00:00Z".into(),
    };
    s.ctx.tamper.inject("p", "us-east-1", record.clone());
    let task = tokio::spawn(reconcile(Arc::new(p.clone()), s.ctx.clone()));
    let body = expect(
        &mut s.handle,
        "PATCH",
        &format!("{POLICY_PATH}/status"),
        serde_json::to_value(&p).unwrap(),
    )
    .await;
    task.await.unwrap().unwrap();
    assert!(
        fake.write_calls()
            .iter()
            .any(|c| c == "PutModelInvocationLoggingConfiguration"),
        "repaired at once (resyncInterval 24h): {:?}",
        fake.write_calls()
    );
    let us = body["status"]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "us-east-1")
        .unwrap();
    assert_eq!(us["lastTamper"]["actor"], record.actor.as_str());
    assert_eq!(us["lastTamper"]["event"], record.event.as_str());
    assert_eq!(us["lastTamper"]["time"], record.time.as_str());
    assert_eq!(us["state"], "Compliant");
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &s.ctx.metrics.registry).unwrap();
    assert!(
        text.contains(r#"bedrock_logging_tamper_events_total{policy="p",region="us-east-1",event="DeleteModelInvocationLoggingConfiguration"} 1"#),
        "{text}"
    );
    // Nothing pending any more: the next watch event is not a pass.
    fake.reset_calls();
    let _ = reconcile(Arc::new(p.clone()), s.ctx.clone()).await.unwrap();
    assert!(fake.calls().is_empty());
    s.ctx.tamper.forget("p");
}

const ORG: &str = "  regions: [us-east-1]\n  accounts:\n    organization: {organizationalUnits: [ou-ab12-aaaaaaaa]}\n  kmsKey: {create: {alias: alias/blo}}\n  s3: {bucketName: \"logs-{accountId}-{region}\"}\n";

/// The operator's account lists two members under one OU; both can be assumed.
fn organization(members: &[&str]) -> FakeCloudFactory {
    let operator = Arc::new(FakeCloud::new("999999999999"));
    operator.state.lock().unwrap().org.insert(
        "ou-ab12-aaaaaaaa".into(),
        (
            vec![],
            members
                .iter()
                .map(|a| crate::cloud::OrgAccount {
                    id: a.to_string(),
                    status: "ACTIVE".into(),
                })
                .collect(),
        ),
    );
    FakeCloudFactory {
        default: operator,
        by_role: members
            .iter()
            .map(|a| {
                (
                    format!("arn:aws:iam::{a}:role/BedrockLoggingOperator"),
                    Arc::new(FakeCloud::new(a)),
                )
            })
            .collect(),
    }
}

#[tokio::test]
async fn an_organization_policy_gets_a_bounded_status_and_lists_members_once_per_interval() {
    let factory = organization(&["111111111111", "222222222222"]);
    let operator = factory.default.clone();
    let member = factory.by_role["arn:aws:iam::111111111111:role/BedrockLoggingOperator"].clone();
    let p = policy(ORG);
    let mut s = scenario_with(factory, vec![], crate::engine::org_status::Shard::ALL);
    let task = tokio::spawn(reconcile(Arc::new(p.clone()), s.ctx.clone()));
    let body = expect(
        &mut s.handle,
        "PATCH",
        &format!("{POLICY_PATH}/status?&force=true&fieldManager=bedrock-logging-operator"),
        serde_json::to_value(&p).unwrap(),
    )
    .await;
    task.await.unwrap().unwrap();
    let st = &body["status"];
    assert_eq!(st["accounts"], json!({"total": 2, "compliant": 2}));
    assert_eq!(st["compliantRegions"], 2);
    assert_eq!(st["totalRegions"], 2);
    assert_eq!(condition(st, "Ready")["status"], "True");
    assert_eq!(
        condition(st, "Ready")["message"],
        "2/2 accounts compliant, 2/2 regions"
    );
    assert!(
        st.get("regions")
            .is_none_or(|r| r.as_array().unwrap().is_empty())
    );
    assert!(
        member
            .state
            .lock()
            .unwrap()
            .logging
            .contains_key("us-east-1")
    );

    // Within discoveryInterval the members are not listed again; after it, an account that
    // left is reported as removed and nothing is done to it.
    let listings = || {
        operator
            .calls()
            .iter()
            .filter(|c| *c == "ListAccountsForParent")
            .count()
    };
    let before = listings();
    let (m, removed) = super::organization::members(&p, &s.ctx).await.unwrap();
    assert_eq!((m.len(), removed.len(), listings()), (2, 0, before));
    operator
        .state
        .lock()
        .unwrap()
        .org
        .get_mut("ou-ab12-aaaaaaaa")
        .unwrap()
        .1
        .retain(|a| a.id != "222222222222");
    s.ctx
        .org_members
        .lock()
        .unwrap()
        .get_mut("p")
        .unwrap()
        .listed_at -= Duration::from_secs(601);
    let (m, removed) = super::organization::members(&p, &s.ctx).await.unwrap();
    assert_eq!(m, vec!["111111111111"]);
    assert_eq!(removed, vec!["222222222222"]);
    assert_eq!(listings(), before + 1);
}

/// One reconcile of organization policy `p` (single replica): its one status write answered
/// with `p`; returns the body written.
async fn org_pass(s: &mut Scenario, p: &BedrockLoggingPolicy) -> Value {
    let path = format!("{POLICY_PATH}/status?&force=true&fieldManager=bedrock-logging-operator");
    let task = tokio::spawn(reconcile(Arc::new(p.clone()), s.ctx.clone()));
    let body = expect(
        &mut s.handle,
        "PATCH",
        &path,
        serde_json::to_value(p).unwrap(),
    )
    .await;
    task.await.unwrap().unwrap();
    body
}

#[tokio::test]
async fn an_organization_pass_counts_as_a_reconcile_and_reports_drift_in_a_member() {
    let factory = organization(&["111111111111", "222222222222"]);
    let member = factory.by_role["arn:aws:iam::111111111111:role/BedrockLoggingOperator"].clone();
    let p = policy(ORG);
    let mut s = scenario_with(factory, vec![], crate::engine::org_status::Shard::ALL);
    org_pass(&mut s, &p).await;
    let text = s.ctx.metrics.encode();
    assert!(
        text.contains("bedrock_logging_reconciles_total{result=\"compliant\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("bedrock_logging_compliant_regions{policy=\"p\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("bedrock_logging_regions{policy=\"p\"} 2"),
        "{text}"
    );
    assert!(
        !text.contains("bedrock_logging_drift_corrections_total{policy=\"p\"}"),
        "a first pass corrects no drift: {text}"
    );

    // Logging switched off in one member; the next pass repairs it and calls it drift.
    member.state.lock().unwrap().logging.remove("us-east-1");
    s.ctx.due.lock().unwrap().remove("p");
    org_pass(&mut s, &p).await;
    assert!(
        member
            .state
            .lock()
            .unwrap()
            .logging
            .contains_key("us-east-1")
    );
    let text = s.ctx.metrics.encode();
    assert!(
        text.contains("bedrock_logging_drift_corrections_total{policy=\"p\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("bedrock_logging_reconciles_total{result=\"compliant\"} 2"),
        "{text}"
    );
    let states = s.ctx.org_previous.lock().unwrap()["p"].clone();
    assert_eq!(states.len(), 2);
    assert_eq!(
        states["111111111111"]["us-east-1"],
        crate::api::RegionState::Compliant
    );
}

#[tokio::test]
async fn the_first_pass_of_an_organization_policy_writes_its_progress() {
    let factory = organization(&["111111111111", "222222222222", "333333333333"]);
    let p = policy(ORG);
    let mut s = scenario_with(factory, vec![], crate::engine::org_status::Shard::ALL);
    let ctx = Arc::get_mut(&mut s.ctx).unwrap();
    ctx.org_progress_every = Duration::ZERO;
    ctx.engine.account_concurrency = 1;
    let path = format!("{POLICY_PATH}/status?&force=true&fieldManager=bedrock-logging-operator");
    let task = tokio::spawn(reconcile(Arc::new(p.clone()), s.ctx.clone()));
    let mut seen = Vec::new();
    for _ in 0..3 {
        let body = expect(
            &mut s.handle,
            "PATCH",
            &path,
            serde_json::to_value(&p).unwrap(),
        )
        .await;
        let st = &body["status"];
        seen.push((
            st["accounts"].clone(),
            condition(st, "Ready")["status"].clone(),
            condition(st, "Ready")["reason"].clone(),
            condition(st, "Reconciling")["status"].clone(),
        ));
    }
    task.await.unwrap().unwrap();
    expect_nothing(&mut s.handle).await;
    assert_eq!(
        seen,
        vec![
            (
                json!({"total": 3, "compliant": 1}),
                json!("False"),
                json!("Converging"),
                json!("True")
            ),
            (
                json!({"total": 3, "compliant": 2}),
                json!("False"),
                json!("Converging"),
                json!("True")
            ),
            (
                json!({"total": 3, "compliant": 3}),
                json!("True"),
                json!("Compliant"),
                json!("False")
            ),
        ]
    );

    // The next pass of the same generation (its status now current) writes no progress.
    let mut current = p.clone();
    current.status = Some(crate::api::BedrockLoggingPolicyStatus {
        observed_generation: p.metadata.generation,
        ..Default::default()
    });
    s.ctx.due.lock().unwrap().remove("p");
    org_pass(&mut s, &current).await;
    expect_nothing(&mut s.handle).await;
}

#[tokio::test]
async fn an_organization_policy_exports_each_members_findings_into_that_member_once() {
    let factory = organization(&["111111111111", "222222222222"]);
    let operator = factory.default.clone();
    let members: Vec<Arc<FakeCloud>> = ["111111111111", "222222222222"]
        .iter()
        .map(|a| factory.by_role[&format!("arn:aws:iam::{a}:role/BedrockLoggingOperator")].clone())
        .collect();
    let p = policy(ORG);
    let mut s = scenario_with(factory, vec![], crate::engine::org_status::Shard::ALL);
    Arc::get_mut(&mut s.ctx).unwrap().export_securityhub = true;
    org_pass(&mut s, &p).await;
    let imports = |c: &FakeCloud| {
        c.calls()
            .iter()
            .filter(|x| *x == "BatchImportFindings")
            .count()
    };
    for (m, account) in members.iter().zip(["111111111111", "222222222222"]) {
        assert_eq!(imports(m), 1, "{account}");
        let st = m.state.lock().unwrap();
        assert!(!st.findings.is_empty());
        assert!(
            st.findings.values().all(|f| f["AwsAccountId"] == account),
            "each member's findings name that member"
        );
    }
    assert_eq!(imports(&operator), 0, "nothing into the operator's account");

    // Unchanged findings are not exported again.
    s.ctx.due.lock().unwrap().remove("p");
    let mut current = p.clone();
    current.status = Some(crate::api::BedrockLoggingPolicyStatus {
        observed_generation: p.metadata.generation,
        ..Default::default()
    });
    org_pass(&mut s, &current).await;
    for m in &members {
        assert_eq!(imports(m), 1);
    }
}

#[tokio::test]
async fn a_second_replica_writes_only_its_shard_entry_under_its_own_field_manager() {
    let members = [
        "111111111111",
        "222222222222",
        "333333333333",
        "444444444444",
    ];
    let factory = organization(&members);
    let clouds = factory.by_role.clone();
    let p = policy(ORG);
    let shard = crate::engine::org_status::Shard { index: 1, count: 2 };
    let mut s = scenario_with(factory, vec![], shard);
    let task = tokio::spawn(reconcile(Arc::new(p.clone()), s.ctx.clone()));
    let body = expect(
        &mut s.handle,
        "PATCH",
        &format!("{POLICY_PATH}/status?&force=true&fieldManager=bedrock-logging-operator-shard-1"),
        serde_json::to_value(&p).unwrap(),
    )
    .await;
    task.await.unwrap().unwrap();
    let status = body["status"].as_object().unwrap();
    assert_eq!(
        status.keys().collect::<Vec<_>>(),
        vec!["shards"],
        "only its entry: {body}"
    );
    let entry = &body["status"]["shards"][0];
    assert_eq!(entry["index"], 1);
    assert_eq!(entry["count"], 2);
    let mine: Vec<&str> = members
        .iter()
        .copied()
        .filter(|a| crate::engine::organization::shard_of(a, 2) == 1)
        .collect();
    assert_eq!(entry["accounts"]["total"], mine.len());
    // Exactly its accounts were reconciled.
    for a in members {
        let touched = !clouds[&format!("arn:aws:iam::{a}:role/BedrockLoggingOperator")]
            .calls()
            .is_empty();
        assert_eq!(touched, mine.contains(&a), "{a}");
    }
    // A single-account policy is replica 0's.
    let single = policy(S3_ONLY);
    let action = reconcile(Arc::new(single), s.ctx.clone()).await.unwrap();
    assert_eq!(action, kube::runtime::controller::Action::await_change());
    expect_nothing(&mut s.handle).await;
}
