//! Tamper response on moto (SPEC §3 step 7): the queue and rule converge and stay converged with
//! zero writes; a CloudTrail-shaped event that EventBridge routes to the queue triggers exactly
//! one pass of the policy, which repairs logging; the operator's own calls, ungoverned resources
//! and refused calls trigger nothing; a burst is one pass; messages go once their pass ran.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_eventbridge as events;
use aws_sdk_sqs as sqs;
use aws_types::region::Region;
use blo::api::validate_file::validate_value;
use blo::api::{BedrockLoggingPolicySpec, Mode};
use blo::cloud::Cloud;
use blo::controller::tamper::TamperHub;
use blo::engine::{EngineOptions, PolicyInput, PolicyReport, run_policy};
use common::*;
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";
const QUEUE: &str = "it-tamper";
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

fn spec(mode: &str) -> BedrockLoggingPolicySpec {
    let yaml = format!(
        "apiVersion: bedrocklogging.io/v1alpha1\nkind: BedrockLoggingPolicy\nmetadata: {{name: it}}\nspec:\n  mode: {mode}\n  regions: [us-east-1, eu-west-1]\n  kmsKey: {{create: {{alias: alias/it}}}}\n  s3: {{bucketName: \"it-logs-{{accountId}}-{{region}}\"}}\n  tamperResponse: {{queueName: {QUEUE}}}\n  resyncInterval: 24h\n"
    );
    serde_json::from_value(
        validate_value(&serde_yaml::from_str(&yaml).unwrap()).unwrap()["spec"].clone(),
    )
    .unwrap()
}

async fn pass(cloud: Arc<dyn Cloud>, spec: &BedrockLoggingPolicySpec) -> PolicyReport {
    let none = BTreeMap::new();
    let prev = BTreeMap::new();
    let input = PolicyInput {
        name: "it",
        spec,
        conflicts: &none,
        previous: &prev,
        permission_grace: false,
    };
    let opts = EngineOptions {
        permission_retry: Duration::from_secs(2),
        consistency_retry: Duration::from_secs(5),
        ..EngineOptions::default()
    };
    run_policy(cloud, &input, &opts).await
}

async fn clients(moto: &Moto, region: &str) -> (sqs::Client, events::Client) {
    let c = moto.config().await;
    let r = Region::new(region.to_string());
    (
        sqs::Client::from_conf(sqs::config::Builder::from(&c).region(r.clone()).build()),
        events::Client::from_conf(events::config::Builder::from(&c).region(r).build()),
    )
}

/// A CloudTrail record as EventBridge delivers it to the default bus.
fn entry(
    source: &str,
    name: &str,
    actor: &str,
    params: Value,
) -> events::types::PutEventsRequestEntry {
    let detail = json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": actor, "accountId": ACCOUNT},
        "eventTime": "2026-12-01T10:00:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "requestParameters": params,
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT,
    });
    events::types::PutEventsRequestEntry::builder()
        .source(format!("aws.{}", source.trim_end_matches(".amazonaws.com")))
        .detail_type("AWS API Call via CloudTrail")
        .detail(detail.to_string())
        .build()
}

/// PutEvents in calls of 10.
async fn send(ev: &events::Client, entries: Vec<events::types::PutEventsRequestEntry>) {
    for chunk in entries.chunks(10) {
        let out = ev
            .put_events()
            .set_entries(Some(chunk.to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_entry_count(), 0, "{out:?}");
    }
}

/// Passes until compliant (the strict layer's eventual-consistency windows may take a few).
async fn converge(cloud: Arc<dyn Cloud>, spec: &BedrockLoggingPolicySpec) -> PolicyReport {
    for _ in 0..10 {
        let r = pass(cloud.clone(), spec).await;
        if r.all_compliant() {
            return r;
        }
    }
    panic!("not compliant after 10 passes");
}

const INTRUDER: &str = "arn:aws:iam::123456789012:user/intruder";

async fn no_trigger(rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>, what: &str) {
    if let Ok(Some(p)) = tokio::time::timeout(Duration::from_secs(3), rx.recv()).await {
        panic!("{what} triggered a pass of {p}");
    }
}

#[tokio::test]
async fn tamper_wiring_converges_and_an_event_repairs_logging_without_waiting_for_the_resync() {
    let (moto, _g) = fresh().await;
    let cloud: Arc<dyn Cloud> = moto.cloud().await;
    let spec = spec("Enforce");
    // The first pass wires every region (it may need more passes to be compliant: the strict
    // layer's eventual-consistency windows).
    let first = pass(cloud.clone(), &spec).await;
    for r in &first.regions {
        assert!(
            r.applied
                .iter()
                .any(|c| c.contains("tamper queue it-tamper created")),
            "{:?}",
            r.applied
        );
        assert!(r.tamper_watch.is_some());
    }
    let first = converge(cloud.clone(), &spec).await;
    for r in &first.regions {
        let f = r
            .findings
            .iter()
            .find(|f| f.id == "bedrocklogging_tamper_response_configured")
            .unwrap();
        assert_eq!(f.status, blo::api::FindingResult::Pass, "{}", f.message);
    }
    // The queue: SSE-SQS, and a policy that admits only the rule of its region.
    for region in REGIONS {
        let (q, ev) = clients(moto, region).await;
        let url = q.get_queue_url().queue_name(QUEUE).send().await.unwrap();
        let attrs = q
            .get_queue_attributes()
            .queue_url(url.queue_url().unwrap())
            .attribute_names(sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let a = attrs.attributes().unwrap();
        assert_eq!(
            a.get(&sqs::types::QueueAttributeName::SqsManagedSseEnabled)
                .map(String::as_str),
            Some("true")
        );
        let queue_arn = format!("arn:aws:sqs:{region}:{ACCOUNT}:{QUEUE}");
        let rule_arn = format!("arn:aws:events:{region}:{ACCOUNT}:rule/{QUEUE}");
        let policy = a.get(&sqs::types::QueueAttributeName::Policy).unwrap();
        assert_eq!(
            blo::engine::judge::queue_admits_only(Some(policy), &queue_arn, &rule_arn),
            Ok(())
        );
        let doc: Value = serde_json::from_str(policy).unwrap();
        assert_eq!(doc["Statement"].as_array().unwrap().len(), 1);
        assert_eq!(
            doc["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"],
            rule_arn
        );
        let rule = ev.describe_rule().name(QUEUE).send().await.unwrap();
        assert_eq!(rule.state(), Some(&events::types::RuleState::Enabled));
        let targets = ev.list_targets_by_rule().rule(QUEUE).send().await.unwrap();
        assert_eq!(targets.targets()[0].arn(), queue_arn);
    }
    // Idempotent: a second pass writes nothing.
    moto.start_recording();
    let second = pass(cloud.clone(), &spec).await;
    assert!(second.all_compliant());
    let recorded = moto.recorded();
    assert_eq!(writes(&recorded), Vec::<String>::new());
    // The queue's URL is remembered from the first pass: one SQS read per region, not two.
    for region in REGIONS {
        let sqs_reads: Vec<&str> = recorded
            .iter()
            .filter(|c| c.region == region && c.service == "sqs")
            .map(|c| c.operation.as_str())
            .collect();
        assert_eq!(sqs_reads, vec!["GetQueueAttributes"], "{region}");
    }

    // Listen, then tamper: logging deleted in us-east-1, the call delivered by EventBridge.
    let (hub, mut rx) = TamperHub::new();
    hub.sync("it", cloud.clone(), &second);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let bedrock = moto.bedrock("us-east-1").await;
    bedrock
        .delete_model_invocation_logging_configuration()
        .send()
        .await
        .unwrap();
    let (q, ev) = clients(moto, "us-east-1").await;
    let t0 = Instant::now();
    send(
        &ev,
        vec![entry(
            "bedrock.amazonaws.com",
            "DeleteModelInvocationLoggingConfiguration",
            INTRUDER,
            Value::Null,
        )],
    )
    .await;
    let triggered = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("no pass triggered within 30 s")
        .unwrap();
    assert_eq!(triggered, "it");
    let events = hub.take("it");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].region, "us-east-1");
    assert_eq!(events[0].record.actor, INTRUDER);
    assert_eq!(
        events[0].record.event,
        "bedrock.amazonaws.com:DeleteModelInvocationLoggingConfiguration"
    );
    assert_eq!(events[0].record.time, "2026-12-01T10:00:00Z");
    let repaired = pass(cloud.clone(), &spec).await;
    let restored = t0.elapsed();
    let us = repaired.region("us-east-1").unwrap();
    assert!(
        us.applied.iter().any(|c| c.contains("logging enabled")),
        "{:?}",
        us.applied
    );
    let got = bedrock
        .get_model_invocation_logging_configuration()
        .send()
        .await
        .unwrap();
    assert!(got.logging_config().and_then(|c| c.s3_config()).is_some());
    println!(
        "MEASURE tamper_event_to_logging_restored_s={:.3} (engine + listener on moto)",
        restored.as_secs_f64()
    );
    // The message is deleted once its pass ran.
    hub.ack(&events).await;
    let url = q.get_queue_url().queue_name(QUEUE).send().await.unwrap();
    let left = q
        .get_queue_attributes()
        .queue_url(url.queue_url().unwrap())
        .attribute_names(sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    for v in left.attributes().unwrap().values() {
        assert_eq!(v, "0", "{left:?}");
    }

    // The operator's own calls (its repair), an ungoverned bucket, a refused call: no pass.
    let own = cloud.caller_arn().await.unwrap();
    send(
        &ev,
        vec![entry(
            "bedrock.amazonaws.com",
            "PutModelInvocationLoggingConfiguration",
            &own,
            Value::Null,
        )],
    )
    .await;
    no_trigger(&mut rx, "the operator's own call").await;
    send(
        &ev,
        vec![entry(
            "s3.amazonaws.com",
            "PutBucketEncryption",
            INTRUDER,
            json!({"bucketName": "somebody-elses-bucket"}),
        )],
    )
    .await;
    no_trigger(&mut rx, "an ungoverned bucket").await;
    assert!(hub.take("it").is_empty());

    // A burst of 100 events for a governed bucket: one pass.
    let bucket = format!("it-logs-{ACCOUNT}-us-east-1");
    send(
        &ev,
        (0..100)
            .map(|_| {
                entry(
                    "s3.amazonaws.com",
                    "DeleteBucketPolicy",
                    INTRUDER,
                    json!({"bucketName": bucket}),
                )
            })
            .collect(),
    )
    .await;
    let first = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await;
    assert_eq!(first.ok().flatten().as_deref(), Some("it"));
    // However the burst is received (10 messages a call), it waits for that one pass.
    let started = Instant::now();
    while hub.pending_count("it") < 100 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    no_trigger(&mut rx, "the rest of the burst").await;
    let burst = hub.take("it");
    assert_eq!(
        burst.len(),
        100,
        "every event of the burst is reported once"
    );
    hub.forget("it");
}

#[tokio::test]
async fn audit_verifies_the_wiring_writes_nothing_and_never_deletes_messages() {
    let (moto, _g) = fresh().await;
    let cloud: Arc<dyn Cloud> = moto.cloud().await;
    moto.start_recording();
    let audit = pass(cloud.clone(), &spec("Audit")).await;
    assert_eq!(audit.mode, Mode::Audit);
    assert_eq!(writes(&moto.recorded()), Vec::<String>::new());
    let f = audit.regions[0]
        .findings
        .iter()
        .find(|f| f.id == "bedrocklogging_tamper_response_configured")
        .unwrap();
    assert_eq!(f.status, blo::api::FindingResult::Fail);
    assert!(f.message.contains("does not exist"), "{}", f.message);
    assert!(
        audit.regions[0]
            .pending
            .iter()
            .any(|c| c.contains("tamper queue")),
        "{:?}",
        audit.regions[0].pending
    );

    // Wired by an Enforce pass, then listened to in Audit: events reported, nothing deleted.
    converge(cloud.clone(), &spec("Enforce")).await;
    let audit = pass(cloud.clone(), &spec("Audit")).await;
    let (hub, mut rx) = TamperHub::new();
    hub.sync("it", cloud.clone(), &audit);
    tokio::time::sleep(Duration::from_millis(300)).await;
    moto.start_recording();
    let (_q, ev) = clients(moto, "us-east-1").await;
    send(
        &ev,
        vec![entry(
            "bedrock.amazonaws.com",
            "DeleteModelInvocationLoggingConfiguration",
            INTRUDER,
            Value::Null,
        )],
    )
    .await;
    let got = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await;
    assert_eq!(got.ok().flatten().as_deref(), Some("it"));
    let events = hub.take("it");
    assert_eq!(events.len(), 1);
    hub.ack(&events).await;
    hub.forget("it");
    let by_operator: Vec<String> = writes(&moto.recorded())
        .into_iter()
        .filter(|w| !w.contains("PutEvents"))
        .collect();
    assert_eq!(
        by_operator,
        Vec::<String>::new(),
        "Audit deletes no message"
    );
}

/// A tamper queue deleted out of band: SQS refuses its name for 60 s after a deletion
/// (QueueDeletedRecently; the strict layer, here with a 2 s limit). The pass reports a transient
/// error (not a Stalled "InvalidSpec"), and once the name is free again the queue is created.
#[tokio::test]
async fn a_queue_deleted_out_of_band_is_created_again_once_sqs_frees_its_name() {
    let (moto, _g) = fresh().await;
    let cloud: Arc<dyn Cloud> = moto.cloud().await;
    let spec = spec("Enforce");
    converge(cloud.clone(), &spec).await;
    moto.strict_config(r#"{"limits": {"sqs_deleted_queue_name_ms": 2000}}"#);
    // Deleted through the strict layer, so that it sees the deletion (as AWS does, whoever
    // deletes).
    let q = sqs::Client::from_conf(
        sqs::config::Builder::from(&moto.operator_config().await)
            .region(Region::new("us-east-1"))
            .build(),
    );
    let url = q.get_queue_url().queue_name(QUEUE).send().await.unwrap();
    q.delete_queue()
        .queue_url(url.queue_url().unwrap())
        .send()
        .await
        .unwrap();
    let refused = pass(cloud.clone(), &spec).await;
    let us = refused.region("us-east-1").unwrap();
    if moto.strict {
        let err = us.error.as_ref().unwrap_or_else(|| {
            panic!(
                "CreateQueue refused within the limit; fired {:?}, applied {:?}",
                moto.strict_fired("sqs_queue_deleted_recently"),
                us.applied
            )
        });
        assert!(err.is_transient(), "{err}");
        assert_eq!(err.stalled_reason(), None, "{err}");
        assert!(!moto.strict_fired("sqs_queue_deleted_recently").is_empty());
        tokio::time::sleep(Duration::from_millis(2100)).await;
    } else {
        // Plain moto frees the name at once.
        assert!(
            us.applied
                .iter()
                .any(|c| c.contains(&format!("tamper queue {QUEUE} created"))),
            "{:?}",
            us.applied
        );
    }
    let repaired = converge(cloud.clone(), &spec).await;
    assert!(repaired.all_compliant());
    assert!(
        q.get_queue_url().queue_name(QUEUE).send().await.is_ok(),
        "the queue exists again"
    );
}
