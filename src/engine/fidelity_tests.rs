//! Engine scenarios for AWS's documented behaviour that a permissive emulator hides (issue 9):
//! each test failed on the engine before its fix.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::api::{BedrockLoggingPolicySpec, FindingResult};
use crate::cloud::fake::{FakeCloud, FakeCloudFactory, FakeRole, Fault};
use crate::cloud::{ErrorKind, TrailInfo, TrailSelectors};

const ACCOUNT: &str = "123456789012";

use super::tests::spec;

const CW: &str = "  regions: [us-east-1, eu-west-1]
  kmsKey: {create: {alias: alias/blo}}
  s3: {bucketName: \"logs-{accountId}-{region}\"}
  cloudWatch: {logGroupName: /aws/bedrock/logs, retentionInDays: 30}
";

fn opts() -> EngineOptions {
    EngineOptions {
        dry_run: false,
        region_concurrency: 4,
        permission_retry: Duration::ZERO,
        consistency_retry: Duration::from_secs(5),
        ..EngineOptions::default()
    }
}

async fn run(fake: &Arc<FakeCloud>, s: &BedrockLoggingPolicySpec, grace: bool) -> PolicyReport {
    let none = BTreeMap::new();
    let prev = BTreeMap::new();
    let input = PolicyInput {
        name: "p",
        spec: s,
        conflicts: &none,
        previous: &prev,
        permission_grace: grace,
    };
    run_policy(fake.clone(), &input, &opts()).await
}

fn fault(operation: &'static str, kind: ErrorKind, message: &str, times: u32) -> Fault {
    Fault {
        operation,
        kind,
        message: message.into(),
        times,
        region: None,
    }
}

/// Defect 7: a role found by name under a path got a computed, path-less ARN in the Bedrock
/// configuration, which never validates. The ARN IAM returns is used.
#[tokio::test]
async fn a_role_under_a_path_is_given_to_bedrock_with_the_arn_iam_returns() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let arn = format!("arn:aws:iam::{ACCOUNT}:role/service-role/BedrockModelInvocationLoggingRole");
    fake.state.lock().unwrap().roles.insert(
        "BedrockModelInvocationLoggingRole".into(),
        FakeRole {
            arn: arn.clone(),
            trust: r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
            inline: BTreeMap::new(),
        },
    );
    let r = run(&fake, &spec(CW), false).await;
    assert!(
        r.all_compliant(),
        "{:?}",
        r.regions.iter().map(|r| r.message()).collect::<Vec<_>>()
    );
    for region in ["us-east-1", "eu-west-1"] {
        let cw = fake.state.lock().unwrap().logging[region]
            .cloud_watch
            .clone()
            .unwrap();
        assert_eq!(cw.role_arn, arn, "{region}");
    }
    assert_eq!(
        r.regions[0].resources.role_arn.as_deref(),
        Some(arn.as_str())
    );
    // And the next pass sees the configuration as matching: zero writes.
    fake.reset_calls();
    let again = run(&fake, &spec(CW), false).await;
    assert!(again.all_compliant());
    assert!(fake.write_calls().is_empty(), "{:?}", fake.write_calls());
}

/// Defect 8: a permanent "Failed to validate permissions" was retried forever. Within the
/// propagation window (a change this pass, or the controller's grace) it is transient; after
/// it, terminal, with the missing grant named.
#[tokio::test]
async fn a_lasting_permission_failure_stalls_with_the_missing_grant_named() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let s = spec(&CW.replace(
        "kmsKey: {create: {alias: alias/blo}}",
        "kmsKey: {create: {alias: alias/blo}, managePolicy: false}",
    ));
    let msg = "Failed to validate permissions for log group: /aws/bedrock/logs, with role: x";
    fake.inject(fault(
        "PutModelInvocationLoggingConfiguration",
        ErrorKind::PermissionPropagation,
        msg,
        1000,
    ));
    // First pass: it created the role and key policy just now: still propagating.
    let first = run(&fake, &s, false).await;
    assert!(
        first
            .regions
            .iter()
            .all(|r| r.error.as_ref().is_some_and(|e| e.is_transient()))
    );
    // Nothing changed since, but the controller says the window is still open.
    let graced = run(&fake, &s, true).await;
    let transient = |r: &PolicyReport| {
        r.regions
            .iter()
            .all(|r| r.error.as_ref().is_some_and(|e| e.is_transient()))
    };
    assert!(transient(&graced));
    // Window closed, no visible gap: terminal, saying that no grant is visibly missing.
    let closed = run(&fake, &s, false).await;
    for r in &closed.regions {
        let e = r.error.as_ref().expect("an error");
        assert!(matches!(e, EngineError::DestinationAccess { .. }), "{e}");
        assert!(e.to_string().contains("no missing grant is visible"), "{e}");
    }
    // Someone strips the key policy (verify-only: not restored). A grant the operator may not
    // add is terminal at once, even within the window.
    for k in fake.state.lock().unwrap().keys.values_mut() {
        k.policy = r#"{"Version":"2012-10-17","Statement":[]}"#.into();
    }
    let graced = run(&fake, &s, true).await;
    assert!(
        graced
            .regions
            .iter()
            .all(|r| r.error.as_ref().is_some_and(|e| !e.is_transient()))
    );
    // After the window: terminal, naming what is missing.
    let after = run(&fake, &s, false).await;
    for r in &after.regions {
        let e = r.error.as_ref().expect("an error");
        assert_eq!(e.stalled_reason(), Some("AccessDenied"), "{e}");
        assert!(matches!(e, EngineError::DestinationAccess { .. }), "{e}");
        let text = e.to_string();
        assert!(text.contains("spec.kmsKey.managePolicy is false"), "{text}");
        assert!(
            text.contains("AllowBedrockLoggingGenerateDataKey"),
            "{text}"
        );
    }
}

/// Defect 9: errors AWS gives for a short while after a create were terminal. They are retried
/// in place: the first converge ends compliant, never Stalled.
#[tokio::test]
async fn eventual_consistency_after_creates_is_retried_in_place() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    fake.inject(fault(
        "CreateAlias",
        ErrorKind::NotFound,
        "Key does not exist",
        1,
    ));
    fake.inject(fault(
        "EnableKeyRotation",
        ErrorKind::NotFound,
        "Key does not exist",
        1,
    ));
    fake.inject(fault(
        "CreateLogGroup",
        ErrorKind::AccessDenied,
        "The specified KMS key does not exist or is not allowed to be used with Arn 'x'",
        1,
    ));
    fake.inject(fault(
        "PutRolePolicy",
        ErrorKind::NotFound,
        "The role cannot be found",
        1,
    ));
    let r = run(&fake, &spec(CW), false).await;
    assert!(
        r.all_compliant(),
        "{:?} {:?}",
        r.global_error,
        r.regions.iter().map(|r| r.message()).collect::<Vec<_>>()
    );
}

/// Defect 10: two keys tagged for the policy (a lost CreateKey response): the oldest gets the
/// alias, the other is reported and never deleted, and the alias does not move afterwards.
#[tokio::test]
async fn duplicate_tagged_keys_alias_the_oldest_and_are_reported() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    fake.kms_create_key_for_test("us-east-1", "p");
    fake.kms_create_key_for_test("us-east-1", "p");
    let s = spec(
        "  regions: [us-east-1]\n  kmsKey: {create: {alias: alias/blo}}\n  s3: {bucketName: \"logs-{accountId}-{region}\"}\n",
    );
    let r = run(&fake, &s, false).await;
    let alias_key = ("us-east-1".to_string(), "alias/blo".to_string());
    let aliased = fake.state.lock().unwrap().aliases[&alias_key].clone();
    assert!(
        aliased.ends_with("000000000001"),
        "the oldest key gets the alias: {aliased}"
    );
    assert_eq!(
        fake.state.lock().unwrap().keys.len(),
        2,
        "no third key, none deleted"
    );
    let dup = r.regions[0]
        .findings
        .iter()
        .find(|f| f.id == findings::SINGLE_KEY)
        .expect("the duplicate is reported");
    assert_eq!(dup.status, FindingResult::Warn);
    assert!(dup.message.contains("000000000002"));
    let again = run(&fake, &s, false).await;
    assert!(again.all_compliant());
    assert_eq!(
        fake.state.lock().unwrap().aliases[&alias_key],
        aliased,
        "the alias never flaps"
    );
}

/// Defect 6: an AssumeRole denial came back as a transient dispatch failure and looped. It is
/// terminal: Stalled AccessDenied, naming spec.account.roleArn.
#[tokio::test]
async fn an_assume_role_denial_is_terminal_and_names_the_field() {
    let factory = FakeCloudFactory {
        default: Arc::new(FakeCloud::new(ACCOUNT)),
        by_role: Default::default(),
    };
    let s = spec(&format!(
        "  account: {{roleArn: \"arn:aws:iam::210987654321:role/blo\", externalId: abc}}\n{CW}"
    ));
    let none = BTreeMap::new();
    let prev = BTreeMap::new();
    let input = PolicyInput {
        name: "p",
        spec: &s,
        conflicts: &none,
        previous: &prev,
        permission_grace: false,
    };
    let r = run_in_account(&factory, &input, &opts()).await;
    let e = r.global_error.expect("an error");
    assert!(!e.is_transient());
    assert_eq!(e.stalled_reason(), Some("AccessDenied"));
    assert!(e.to_string().starts_with("spec.account.roleArn:"), "{e}");
    assert!(e.to_string().contains("ExternalId"), "{e}");
}

fn trail(home: &str, multi: bool) -> TrailInfo {
    TrailInfo {
        arn: format!("arn:aws:cloudtrail:{home}:{ACCOUNT}:trail/org"),
        name: "org".into(),
        home_region: home.into(),
        multi_region: multi,
    }
}

/// Defect 11: the trail was looked up in regions[0] only. A trail whose home is elsewhere is
/// found (ListTrails), written in its home region, and a stopped trail fails the finding.
#[tokio::test]
async fn the_trail_is_found_wherever_it_lives_and_a_stopped_trail_fails() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    fake.state.lock().unwrap().trails.insert(
        "org".into(),
        (trail("ap-southeast-2", true), TrailSelectors::default()),
    );
    let s = spec(&format!(
        "{CW}  cloudTrail: {{trailName: org, dataEvents: [Model, Prompt]}}\n"
    ));
    // A multi-region trail is visible from every region: this proves nothing yet. Make it a
    // single-region trail of another region, which GetTrail from us-east-1 does not see.
    fake.state
        .lock()
        .unwrap()
        .trails
        .get_mut("org")
        .unwrap()
        .0
        .multi_region = false;
    let r = run(&fake, &s, false).await;
    assert!(r.global_error.is_none(), "{:?}", r.global_error);
    let selectors = fake.state.lock().unwrap().trails["org"].1.clone();
    let types: Vec<String> = selectors
        .advanced
        .iter()
        .flat_map(|s| s.fields.iter().flat_map(|f| f.equals.clone()))
        .collect();
    assert!(
        types.contains(&"AWS::Bedrock::PromptVersion".to_string()),
        "{types:?}"
    );
    assert!(!types.contains(&"AWS::Bedrock::Prompt".to_string()));
    assert!(
        fake.calls_of("ap-southeast-2")
            .contains(&"PutEventSelectors".to_string()),
        "written in its home region: {:?}",
        fake.calls_of("ap-southeast-2")
    );
    // A multi-region trail that is stopped records nothing.
    {
        let mut st = fake.state.lock().unwrap();
        st.trails.get_mut("org").unwrap().0.multi_region = true;
        st.stopped_trails.insert("org".into());
    }
    let r = run(&fake, &s, false).await;
    let f = r.regions[0]
        .findings
        .iter()
        .find(|f| f.id == findings::CLOUDTRAIL_DATA_EVENTS)
        .unwrap();
    assert_eq!(f.status, FindingResult::Fail);
    assert!(f.message.contains("not logging"), "{}", f.message);
}

/// Defect 13: PutBucketTagging replaces the whole set; ours are merged into what is there.
#[test]
fn bucket_tags_are_merged_never_replaced() {
    use crate::cloud::sdk::merge_tags;
    let existing = vec![("team".to_string(), "data".to_string())];
    let ours = desired::resource_tags("p");
    let merged = merge_tags(&existing, &ours).expect("ours are added");
    assert!(
        merged.contains(&("team".to_string(), "data".to_string())),
        "foreign tag kept"
    );
    for t in &ours {
        assert!(merged.contains(t));
    }
    assert_eq!(
        merge_tags(&merged, &ours),
        None,
        "nothing to change the second time"
    );
}

/// Defect 15: a key of another account with managePolicy: false is verified as far as KMS
/// allows (GetKeyPolicy is not allowed across accounts), and says so naming the field; with
/// managePolicy: true it is a clear KeyUnusable, with nothing written.
#[tokio::test]
async fn a_cross_account_key_is_verified_as_far_as_kms_allows() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    let arn = "arn:aws:kms:us-east-1:999988887777:key/11111111-2222-3333-4444-555555555555";
    fake.add_key(
        "us-east-1",
        crate::cloud::KeyInfo {
            arn: arn.into(),
            key_id: "11111111-2222-3333-4444-555555555555".into(),
            enabled: true,
            state: "Enabled".into(),
            spec: "SYMMETRIC_DEFAULT".into(),
            usage: "ENCRYPT_DECRYPT".into(),
            manager: "CUSTOMER".into(),
            created: 0,
        },
        "{}",
    );
    let yaml = |manage: bool| {
        format!(
            "  mode: Audit\n  regions: [us-east-1]\n  kmsKey: {{existing: \"{arn}\", managePolicy: {manage}}}\n  s3: {{bucketName: \"logs-{{accountId}}-{{region}}\"}}\n"
        )
    };
    let r = run(&fake, &spec(&yaml(false)), false).await;
    let f = r.regions[0]
        .findings
        .iter()
        .find(|f| f.id == findings::KEY_POLICY_CONTEXT)
        .expect("evaluated");
    assert_eq!(f.status, FindingResult::Warn, "{}", f.message);
    assert!(f.message.contains("spec.kmsKey.existing") && f.message.contains("another account"));
    let mut enforce = spec(&yaml(true));
    enforce.mode = crate::api::Mode::Enforce;
    fake.reset_calls();
    let r = run(&fake, &enforce, false).await;
    let e = r.regions[0].error.as_ref().expect("an error");
    assert_eq!(e.stalled_reason(), Some("KeyUnusable"), "{e}");
    assert!(e.to_string().contains("managePolicy: false"), "{e}");
    assert!(fake.write_calls().is_empty(), "{:?}", fake.write_calls());
}

/// Defect 6 (second half): a region without a Bedrock endpoint is a spec error naming the
/// region, not a transient failure retried forever; the other regions converge.
#[tokio::test]
async fn a_region_without_a_bedrock_endpoint_is_a_spec_error_naming_it() {
    let fake = Arc::new(FakeCloud::new(ACCOUNT));
    fake.inject(Fault {
        operation: "GetModelInvocationLoggingConfiguration",
        kind: ErrorKind::NoEndpoint,
        message: "dns error: failed to lookup address information: Name or service not known"
            .into(),
        times: 10,
        region: Some("eu-west-1".into()),
    });
    let r = run(&fake, &spec(CW), false).await;
    let eu = r.regions.iter().find(|x| x.region == "eu-west-1").unwrap();
    let e = eu.error.as_ref().expect("an error");
    assert_eq!(e.stalled_reason(), Some("InvalidSpec"), "{e}");
    assert!(e.to_string().starts_with("spec.regions:"), "{e}");
    assert!(e.to_string().contains("eu-west-1"), "{e}");
    let us = r.regions.iter().find(|x| x.region == "us-east-1").unwrap();
    assert!(us.error.is_none(), "{:?}", us.error);
}

/// Issue 8 item 5: the mode rule's last guard is in `execute` itself — given changes in a pass
/// that may not write (Audit, dry run), it makes no AWS call at all.
#[tokio::test]
async fn execute_never_writes_in_a_pass_that_may_not() {
    let fake = FakeCloud::new(ACCOUNT);
    let cx = execute::ExecContext {
        writes: false,
        cloud: &fake,
        region: "us-east-1",
        tags: desired::resource_tags("p"),
        policy: "p",
        permission_retry: Duration::ZERO,
        consistency_retry: Duration::ZERO,
    };
    let done = execute::execute(
        &cx,
        &[
            Change::CreateBucket { bucket: "b".into() },
            Change::DeleteLoggingConfig,
        ],
        None,
    )
    .await;
    assert!(done.applied.is_empty() && done.error.is_none());
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}
