//! Engine scenarios against the in-memory fake AWS: convergence, idempotence, Audit, safety
//! rules, failure isolation, crash recovery.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::api::{BedrockLoggingPolicySpec, FindingResult, RegionState};
use crate::cloud::fake::{FakeBucket, FakeCloud, Fault};
use crate::cloud::{BucketEncryption, ErrorKind, KeyInfo, LogGroupInfo};
use crate::policy_doc::{parse_document, sid, statements};

const ACCOUNT: &str = "123456789012";

/// A validated spec from the YAML lines under `spec:` (shared by the engine test modules).
pub(super) fn spec(yaml: &str) -> BedrockLoggingPolicySpec {
    let v: serde_json::Value = serde_yaml::from_str(&format!(
        "apiVersion: bedrocklogging.io/v1alpha1\nkind: BedrockLoggingPolicy\nmetadata: {{name: p}}\nspec:\n{yaml}"
    ))
    .unwrap();
    let v = crate::api::validate_file::validate_value(&v).unwrap_or_else(|e| panic!("{e:?}"));
    serde_json::from_value(v["spec"].clone()).unwrap()
}

const TWO_REGIONS: &str = "  regions: [us-east-1, eu-west-1]
  kmsKey: {create: {alias: alias/blo}}
  s3: {bucketName: \"logs-{accountId}-{region}\", keyPrefix: bedrock}
  cloudWatch:
    logGroupName: /aws/bedrock/logs
    retentionInDays: 30
    largeDataDelivery: {bucketName: \"large-{accountId}-{region}\"}
";

fn opts() -> EngineOptions {
    EngineOptions {
        dry_run: false,
        region_concurrency: 4,
        permission_retry: Duration::from_secs(10),
        consistency_retry: Duration::from_secs(5),
        ..EngineOptions::default()
    }
}

async fn run_with(
    fake: &Arc<FakeCloud>,
    s: &BedrockLoggingPolicySpec,
    o: &EngineOptions,
    conflicts: &BTreeMap<String, String>,
    previous: &BTreeMap<String, RegionState>,
) -> PolicyReport {
    let input = PolicyInput {
        name: "p",
        spec: s,
        conflicts,
        previous,
        permission_grace: false,
    };
    run_policy(fake.clone(), &input, o).await
}

async fn run(fake: &Arc<FakeCloud>, s: &BedrockLoggingPolicySpec) -> PolicyReport {
    run_with(fake, s, &opts(), &BTreeMap::new(), &BTreeMap::new()).await
}

fn states(r: &PolicyReport) -> Vec<(String, RegionState)> {
    r.regions
        .iter()
        .map(|x| (x.region.clone(), x.state))
        .collect()
}

#[tokio::test]
async fn converges_empty_account_and_second_pass_writes_nothing() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let s = spec(TWO_REGIONS);
    let first = run(&fake, &s).await;
    assert!(first.all_compliant(), "{:#?}", states(&first));
    assert!(!fake.write_calls().is_empty());
    assert_eq!(
        fake.write_calls()
            .iter()
            .filter(|c| *c == "CreateKey")
            .count(),
        2
    );
    fake.reset_calls();
    let second = run(&fake, &s).await;
    assert!(second.all_compliant());
    assert_eq!(
        fake.write_calls(),
        Vec::<String>::new(),
        "a converged account needs zero writes"
    );
    assert!(second.all_applied().is_empty());
}

/// Every destination (main bucket, a distinct large-data bucket, log group) and tamper response:
/// the most a region reads in steady state. The queue URL is remembered from the first pass, so
/// the queue costs one read; the 16 reads are one over SPEC §7's 15 (README, "Tamper response").
#[tokio::test]
async fn steady_state_reads_with_every_destination_and_tamper_response() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let s = spec(&format!(
        "{TWO_REGIONS}  tamperResponse: {{queueName: blo-tamper}}\n"
    ));
    let first = run(&fake, &s).await;
    assert!(first.all_compliant(), "{:#?}", states(&first));
    fake.reset_calls();
    let again = run(&fake, &s).await;
    assert!(again.all_compliant());
    assert!(fake.write_calls().is_empty(), "{:?}", fake.write_calls());
    for r in ["us-east-1", "eu-west-1"] {
        let mut ops: Vec<&str> = fake
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(region, _)| region == r)
            .map(|(_, op)| *op)
            .collect();
        ops.sort_unstable();
        assert_eq!(
            ops,
            vec![
                "DescribeKey",
                "DescribeLogGroups",
                "DescribeRule",
                "GetBucketEncryption",
                "GetBucketEncryption",
                "GetBucketOwnershipControls",
                "GetBucketOwnershipControls",
                "GetBucketPolicy",
                "GetBucketPolicy",
                "GetKeyPolicy",
                "GetKeyRotationStatus",
                "GetModelInvocationLoggingConfiguration",
                "GetPublicAccessBlock",
                "GetPublicAccessBlock",
                "GetQueueAttributes",
                "ListTargetsByRule",
            ],
            "{r}"
        );
    }
}

/// A queue deleted out of band after its URL was remembered: the remembered URL answers "does
/// not exist", and the pass creates the queue again.
#[tokio::test]
async fn a_deleted_tamper_queue_is_created_again_despite_the_remembered_url() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let s = spec(&format!(
        "{TWO_REGIONS}  tamperResponse: {{queueName: blo-tamper}}\n"
    ));
    assert!(run(&fake, &s).await.all_compliant());
    fake.state
        .lock()
        .unwrap()
        .queues
        .remove(&("us-east-1".to_string(), "blo-tamper".to_string()));
    fake.reset_calls();
    let repaired = run(&fake, &s).await;
    let us = repaired.region("us-east-1").unwrap();
    assert!(
        us.applied
            .iter()
            .any(|c| c.contains("tamper queue blo-tamper created")),
        "{:?}",
        us.applied
    );
    assert!(repaired.all_compliant(), "{:#?}", states(&repaired));
    assert!(
        fake.state
            .lock()
            .unwrap()
            .queues
            .contains_key(&("us-east-1".to_string(), "blo-tamper".to_string()))
    );
    // The next pass reads the new queue by the URL CreateQueue returned.
    fake.reset_calls();
    assert!(run(&fake, &s).await.all_compliant());
    assert!(!fake.calls().iter().any(|c| c == "GetQueueUrl"));
}

#[tokio::test]
async fn steady_state_reads_stay_within_budget() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let s = spec(TWO_REGIONS);
    run(&fake, &s).await;
    fake.reset_calls();
    let again = run(&fake, &s).await;
    assert!(again.all_compliant());
    for r in ["us-east-1", "eu-west-1"] {
        let n = fake.calls_in(r);
        assert!(n <= 15, "{r}: {n} region-scoped reads in steady state");
        assert!(n >= 10, "{r}: expected the full observation, got {n}");
    }
    assert!(
        fake.calls_in("global") <= 3,
        "global reads: {}",
        fake.calls_in("global")
    );
}

#[tokio::test]
async fn audit_and_dry_run_make_zero_writes() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let mut s = spec(TWO_REGIONS);
    s.mode = crate::api::Mode::Audit;
    let audit = run(&fake, &s).await;
    assert_eq!(fake.write_calls(), Vec::<String>::new());
    assert!(
        audit
            .regions
            .iter()
            .all(|r| r.state == RegionState::NonCompliant)
    );
    assert!(audit.regions.iter().all(|r| !r.pending.is_empty()));
    assert!(
        !audit.global_pending.is_empty(),
        "role creation must be planned"
    );

    s.mode = crate::api::Mode::Enforce;
    let dry = run_with(
        &fake,
        &s,
        &EngineOptions {
            dry_run: true,
            ..opts()
        },
        &BTreeMap::new(),
        &BTreeMap::new(),
    )
    .await;
    assert_eq!(fake.write_calls(), Vec::<String>::new());
    assert!(
        dry.all_pending()
            .iter()
            .any(|c| c.contains("KMS key alias/blo created"))
    );
}

#[tokio::test]
async fn foreign_bucket_and_key_policy_statements_survive() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let foreign_bucket_stmt = serde_json::json!({"Sid": "TheirAuditRead", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::logs-123456789012-us-east-1/*"});
    fake.state.lock().unwrap().buckets.insert(
        "logs-123456789012-us-east-1".into(),
        FakeBucket {
            region: "us-east-1".into(),
            policy: Some(serde_json::json!({"Version": "2012-10-17", "Statement": [foreign_bucket_stmt.clone()]}).to_string()),
            ..Default::default()
        },
    );
    let root = serde_json::json!({"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"});
    let foreign_key_stmt = serde_json::json!({"Sid": "SecurityTeamDecrypt", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/sec"}, "Action": "kms:Decrypt", "Resource": "*"});
    fake.add_key(
        "us-east-1",
        KeyInfo { arn: "arn:aws:kms:us-east-1:123456789012:key/k1".into(), key_id: "k1".into(), enabled: true, state: "Enabled".into(), spec: "SYMMETRIC_DEFAULT".into(), usage: "ENCRYPT_DECRYPT".into(), manager: "CUSTOMER".into(), created: 0 },
        &serde_json::json!({"Version": "2012-10-17", "Statement": [root.clone(), foreign_key_stmt.clone()]}).to_string(),
    );
    fake.state
        .lock()
        .unwrap()
        .aliases
        .insert(("us-east-1".into(), "alias/team".into()), "k1".into());
    let s = spec(
        "  regions: [us-east-1]\n  kmsKey: {existing: alias/team}\n  s3: {bucketName: \"logs-{accountId}-{region}\"}\n  cloudWatch: {logGroupName: /aws/bedrock/logs}\n",
    );
    let report = run(&fake, &s).await;
    assert!(report.all_compliant(), "{:#?}", report.regions);
    let st = fake.state.lock().unwrap();
    let bucket_policy = parse_document(
        st.buckets["logs-123456789012-us-east-1"]
            .policy
            .as_ref()
            .unwrap(),
    )
    .unwrap();
    let stmts = statements(&bucket_policy);
    assert_eq!(
        stmts[0], foreign_bucket_stmt,
        "foreign bucket statement kept first, unchanged"
    );
    assert!(
        stmts
            .iter()
            .any(|s| sid(s) == Some("AmazonBedrockLogsWrite"))
    );
    let key_policy =
        parse_document(&st.keys[&("us-east-1".to_string(), "k1".to_string())].policy).unwrap();
    let kstmts = statements(&key_policy);
    assert_eq!(kstmts[0], root, "account-root statement never removed");
    assert_eq!(kstmts[1], foreign_key_stmt);
    assert!(
        kstmts
            .iter()
            .any(|s| sid(s) == Some(crate::policy_doc::key_policy::SID_BEDROCK))
    );
    assert!(
        kstmts
            .iter()
            .any(|s| sid(s) == Some(crate::policy_doc::key_policy::SID_LOGS))
    );
    assert!(
        !st.keys.keys().any(|(_, id)| id != "k1"),
        "no key created when an existing one is given"
    );
}

#[tokio::test]
async fn missing_bucket_with_create_false_is_a_spec_error_with_no_writes() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let s = spec(
        "  regions: [us-east-1]\n  kmsKey: {create: {alias: alias/blo}}\n  s3: {bucketName: \"missing-{region}\", create: false}\n",
    );
    let r = run(&fake, &s).await;
    assert_eq!(fake.write_calls(), Vec::<String>::new());
    let reg = &r.regions[0];
    assert_eq!(reg.state, RegionState::Error);
    let e = reg.error.as_ref().unwrap();
    assert_eq!(e.stalled_reason(), Some("InvalidSpec"));
    let msg = e.to_string();
    assert!(
        msg.contains("spec.s3.bucketName")
            && msg.contains("missing-us-east-1")
            && msg.contains("create: true"),
        "{msg}"
    );
}

fn key(state: &str, enabled: bool, spec: &str) -> KeyInfo {
    KeyInfo {
        arn: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(),
        key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
        enabled,
        state: state.into(),
        spec: spec.into(),
        usage: "ENCRYPT_DECRYPT".into(),
        manager: "CUSTOMER".into(),
        created: 0,
    }
}

#[tokio::test]
async fn unusable_existing_keys_stall_without_writes() {
    for (k, expect) in [
        (key("Disabled", false, "SYMMETRIC_DEFAULT"), "Disabled"),
        (
            key("PendingDeletion", false, "SYMMETRIC_DEFAULT"),
            "pending deletion",
        ),
        (key("Enabled", true, "RSA_2048"), "symmetric"),
    ] {
        let fake = Arc::new(FakeCloud::new(ACCOUNT));
        fake.add_key("us-east-1", k, "{\"Statement\": []}");
        let s = spec(
            "  regions: [us-east-1]\n  kmsKey: {existing: arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab}\n  s3: {bucketName: \"logs-{region}\"}\n",
        );
        let r = run(&fake, &s).await;
        assert_eq!(fake.write_calls(), Vec::<String>::new());
        let e = r.regions[0].error.as_ref().expect("error");
        assert_eq!(e.stalled_reason(), Some("KeyUnusable"));
        assert!(e.to_string().contains(expect), "{e}");
    }
    // A key that does not exist at all.
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let s = spec(
        "  regions: [us-east-1]\n  kmsKey: {existing: alias/nope}\n  s3: {bucketName: \"logs-{region}\"}\n",
    );
    let r = run(&fake, &s).await;
    assert!(
        r.regions[0]
            .error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("alias/nope")
    );
    assert_eq!(fake.write_calls(), Vec::<String>::new());
}

#[tokio::test]
async fn crash_between_create_key_and_alias_reuses_the_tagged_key() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let s = spec(
        "  regions: [us-east-1]\n  kmsKey: {create: {alias: alias/blo}}\n  s3: {bucketName: \"logs-{region}\"}\n",
    );
    // Simulate the crash: the key exists (tagged, as CreateKey sets tags) but has no alias.
    fake.kms_create_key_for_test("us-east-1", "p");
    let r = run(&fake, &s).await;
    assert!(r.all_compliant(), "{:#?}", r.regions);
    let writes = fake.write_calls();
    assert!(!writes.contains(&"CreateKey".to_string()), "{writes:?}");
    assert!(writes.contains(&"CreateAlias".to_string()));
    assert_eq!(fake.state.lock().unwrap().keys.len(), 1, "exactly one key");
}

#[tokio::test]
async fn one_failing_region_does_not_block_the_others() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    fake.inject(Fault {
        operation: "CreateBucket",
        kind: ErrorKind::AccessDenied,
        message: "denied by SCP".into(),
        times: 100,
        region: Some("eu-west-1".into()),
    });
    let s = spec(TWO_REGIONS);
    let r = run(&fake, &s).await;
    let map: BTreeMap<_, _> = states(&r).into_iter().collect();
    assert_eq!(map["us-east-1"], RegionState::Compliant, "{:#?}", r.regions);
    assert_eq!(map["eu-west-1"], RegionState::Error);
    assert_eq!(
        r.regions[1].error.as_ref().unwrap().stalled_reason(),
        Some("AccessDenied")
    );
    // The role still grants the working region; the failing one got its key before failing.
    let role = fake.state.lock().unwrap().roles["BedrockModelInvocationLoggingRole"].inline
        [&crate::policy_doc::role_policy::inline_policy_name("p")]
        .clone();
    assert!(
        role.contains(":kms:us-east-1:") && role.contains(":kms:eu-west-1:"),
        "{role}"
    );
}

#[tokio::test]
async fn transient_errors_are_reported_and_the_next_pass_converges() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    fake.inject(Fault {
        operation: "GetBucketPolicy",
        kind: ErrorKind::Throttled,
        message: "Rate exceeded".into(),
        times: 1,
        region: Some("us-east-1".into()),
    });
    let s = spec(TWO_REGIONS);
    let first = run(&fake, &s).await;
    let e = first.regions[0].error.as_ref().expect("throttled");
    assert!(e.is_transient() && e.stalled_reason().is_none());
    assert_eq!(first.regions[1].state, RegionState::Compliant);
    let second = run(&fake, &s).await;
    assert!(second.all_compliant());
}

#[tokio::test]
async fn bedrock_permission_propagation_is_retried() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    fake.inject(Fault {
        operation: "PutModelInvocationLoggingConfiguration",
        kind: ErrorKind::PermissionPropagation,
        message: "Failed to validate permissions for log group: /aws/bedrock/logs".into(),
        times: 2,
        region: None,
    });
    let s = spec(
        "  regions: [us-east-1]\n  kmsKey: {create: {alias: alias/blo}}\n  cloudWatch: {logGroupName: /aws/bedrock/logs}\n",
    );
    let r = run(&fake, &s).await;
    assert!(r.all_compliant(), "{:#?}", r.regions);
    assert_eq!(
        fake.calls()
            .iter()
            .filter(|c| *c == "PutModelInvocationLoggingConfiguration")
            .count(),
        3
    );
}

#[tokio::test]
async fn account_pin_mismatch_writes_nothing() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let s = spec(
        "  regions: [us-east-1]\n  account: {id: \"111122223333\"}\n  kmsKey: {create: {alias: alias/blo}}\n  s3: {bucketName: \"logs-{region}\"}\n",
    );
    let r = run(&fake, &s).await;
    assert_eq!(fake.write_calls(), Vec::<String>::new());
    assert_eq!(fake.calls(), vec!["GetCallerIdentity".to_string()]);
    assert_eq!(
        r.global_error.as_ref().unwrap().stalled_reason(),
        Some("AccountMismatch")
    );
    assert!(r.regions.iter().all(|x| x.state == RegionState::Error));
}

#[tokio::test]
async fn conflicting_regions_are_left_alone() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let s = spec(TWO_REGIONS);
    let conflicts = BTreeMap::from([("eu-west-1".to_string(), "older".to_string())]);
    let r = run_with(&fake, &s, &opts(), &conflicts, &BTreeMap::new()).await;
    assert_eq!(
        fake.calls_in("eu-west-1"),
        0,
        "nothing read or written in a region another policy owns"
    );
    assert_eq!(r.regions[1].state, RegionState::Conflict);
    assert_eq!(
        r.regions[1].error.as_ref().unwrap().stalled_reason(),
        Some("Conflict")
    );
    assert_eq!(r.regions[0].state, RegionState::Compliant);
}

#[tokio::test]
async fn drift_is_detected_in_audit_and_corrected_in_enforce() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let s = spec(TWO_REGIONS);
    assert!(run(&fake, &s).await.all_compliant());
    {
        let mut st = fake.state.lock().unwrap();
        st.buckets
            .get_mut("logs-123456789012-us-east-1")
            .unwrap()
            .encryption = Some(BucketEncryption {
            algorithm: "AES256".into(),
            kms_key_id: None,
            bucket_key_enabled: false,
        });
        st.logging.remove("eu-west-1");
    }
    let mut audit = s.clone();
    audit.mode = crate::api::Mode::Audit;
    let previous = BTreeMap::from([
        ("us-east-1".to_string(), RegionState::Compliant),
        ("eu-west-1".to_string(), RegionState::Compliant),
    ]);
    fake.reset_calls();
    let seen = run_with(&fake, &audit, &opts(), &BTreeMap::new(), &previous).await;
    assert_eq!(fake.write_calls(), Vec::<String>::new());
    assert!(
        seen.regions.iter().all(|r| r.state == RegionState::Drifted),
        "{:#?}",
        states(&seen)
    );
    let enc = seen.regions[0]
        .findings
        .iter()
        .find(|f| f.id == findings::LOGS_ENCRYPTED)
        .unwrap();
    assert_eq!(enc.status, FindingResult::Fail);
    assert!(enc.message.contains("SSE-S3 (AES256)"), "{}", enc.message);

    let fixed = run_with(&fake, &s, &opts(), &BTreeMap::new(), &previous).await;
    assert!(fixed.all_compliant());
    assert!(
        fixed.regions[0]
            .applied
            .iter()
            .any(|c| c.contains("default encryption set to SSE-KMS") && c.contains("was AES256"))
    );
    assert!(
        fixed.regions[1]
            .applied
            .iter()
            .any(|c| c.contains("Bedrock model invocation logging enabled"))
    );
}

#[tokio::test]
async fn verify_only_key_policy_is_reported_not_written() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    fake.add_key(
        "us-east-1",
        key("Enabled", true, "SYMMETRIC_DEFAULT"),
        "{\"Version\":\"2012-10-17\",\"Statement\":[]}",
    );
    let s = spec(
        "  regions: [us-east-1]\n  kmsKey: {existing: 1234abcd-12ab-34cd-56ef-1234567890ab, managePolicy: false}\n  s3: {bucketName: \"logs-{region}\"}\n",
    );
    let r = run(&fake, &s).await;
    assert!(!fake.write_calls().contains(&"PutKeyPolicy".to_string()));
    assert_eq!(r.regions[0].state, RegionState::NonCompliant);
    let f = r.regions[0]
        .findings
        .iter()
        .find(|f| f.id == findings::KEY_POLICY_CONTEXT)
        .unwrap();
    assert_eq!(f.status, FindingResult::Fail);
    assert!(f.message.contains("managePolicy is false"), "{}", f.message);
}

#[tokio::test]
async fn existing_log_group_without_key_gets_the_key_associated() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    fake.state.lock().unwrap().log_groups.insert(
        ("us-east-1".into(), "/aws/bedrock/logs".into()),
        LogGroupInfo {
            arn: "arn:aws:logs:us-east-1:123456789012:log-group:/aws/bedrock/logs".into(),
            kms_key_id: None,
            retention_in_days: Some(7),
        },
    );
    let s = spec(
        "  regions: [us-east-1]\n  kmsKey: {create: {alias: alias/blo}}\n  cloudWatch: {logGroupName: /aws/bedrock/logs, create: false}\n",
    );
    let r = run(&fake, &s).await;
    assert!(r.all_compliant(), "{:#?}", r.regions);
    let writes = fake.write_calls();
    assert!(
        writes.contains(&"AssociateKmsKey".to_string())
            && !writes.contains(&"CreateLogGroup".to_string()),
        "{writes:?}"
    );
}

#[tokio::test]
async fn two_policies_sharing_the_delivery_role_do_not_overwrite_each_other() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let a = spec(
        "  regions: [us-east-1]\n  kmsKey: {create: {alias: alias/a}}\n  cloudWatch: {logGroupName: /aws/bedrock/a}\n",
    );
    let b = spec(
        "  regions: [eu-west-1]\n  kmsKey: {create: {alias: alias/b}}\n  cloudWatch: {logGroupName: /aws/bedrock/b}\n",
    );
    let run_named = |name: &'static str, s: BedrockLoggingPolicySpec| {
        let fake = fake.clone();
        async move {
            let prev = BTreeMap::new();
            let input = PolicyInput {
                name,
                spec: &s,
                conflicts: &BTreeMap::new(),
                previous: &prev,
                permission_grace: false,
            };
            run_policy(fake, &input, &opts()).await
        }
    };
    assert!(run_named("team-a", a.clone()).await.all_compliant());
    assert!(run_named("team-b", b.clone()).await.all_compliant());
    fake.reset_calls();
    assert!(run_named("team-a", a).await.all_compliant());
    assert!(run_named("team-b", b).await.all_compliant());
    assert_eq!(
        fake.write_calls(),
        Vec::<String>::new(),
        "no ping-pong on the shared role"
    );
    let st = fake.state.lock().unwrap();
    let role = &st.roles["BedrockModelInvocationLoggingRole"];
    let trust = parse_document(&role.trust).unwrap();
    assert_eq!(
        statements(&trust).len(),
        2,
        "one trust statement per policy"
    );
    assert!(
        role.trust.contains("arn:aws:bedrock:us-east-1:")
            && role.trust.contains("arn:aws:bedrock:eu-west-1:")
    );
    assert_eq!(role.inline.len(), 2, "one inline policy per policy");
}

#[tokio::test]
async fn a_policy_in_conflict_does_not_touch_the_role_for_regions_it_does_not_own() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let s = spec(
        "  regions: [us-east-1, eu-west-1]\n  kmsKey: {create: {alias: alias/blo}}\n  cloudWatch: {logGroupName: /aws/bedrock/logs}\n",
    );
    let all = BTreeMap::from([
        ("us-east-1".to_string(), "older".to_string()),
        ("eu-west-1".to_string(), "older".to_string()),
    ]);
    run_with(&fake, &s, &opts(), &all, &BTreeMap::new()).await;
    assert_eq!(
        fake.write_calls(),
        Vec::<String>::new(),
        "fully conflicted: nothing written, not even IAM"
    );
    let one = BTreeMap::from([("eu-west-1".to_string(), "older".to_string())]);
    run_with(&fake, &s, &opts(), &one, &BTreeMap::new()).await;
    let st = fake.state.lock().unwrap();
    let trust = &st.roles["BedrockModelInvocationLoggingRole"].trust;
    assert!(
        trust.contains("arn:aws:bedrock:us-east-1:")
            && !trust.contains("arn:aws:bedrock:eu-west-1:"),
        "{trust}"
    );
}

#[tokio::test]
async fn read_only_passes_do_not_scan_every_key_of_the_region() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    fake.kms_create_key_for_test("us-east-1", "p");
    let mut s = spec(
        "  regions: [us-east-1]\n  kmsKey: {create: {alias: alias/blo}}\n  s3: {bucketName: \"logs-{region}\"}\n",
    );
    s.mode = crate::api::Mode::Audit;
    run(&fake, &s).await;
    assert!(
        !fake.calls().contains(&"ListKeys".to_string()),
        "{:?}",
        fake.calls()
    );
    // An Enforce pass about to create a key looks for the orphan first (and adopts it).
    s.mode = crate::api::Mode::Enforce;
    run(&fake, &s).await;
    assert!(fake.calls().contains(&"ListKeys".to_string()));
    assert_eq!(fake.state.lock().unwrap().keys.len(), 1);
}
