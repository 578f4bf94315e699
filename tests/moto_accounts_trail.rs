//! Integration tests against moto for what reaches beyond one account and beyond logging:
//! policies acting in other accounts through STS AssumeRole, the account pin, and the
//! CloudTrail advanced-event-selector merge.

mod common;

use aws_sdk_cloudtrail as cloudtrail;
use aws_sdk_s3 as s3;
use aws_sdk_sts as sts;
use common::*;
use serde_json::Value;

const OTHER_ACCOUNT: &str = "210987654321";

async fn assumed_config(moto: &Moto, role_arn: &str) -> aws_config::SdkConfig {
    let base = moto.config().await;
    let out = sts::Client::new(&base)
        .assume_role()
        .role_arn(role_arn)
        .role_session_name("test")
        .external_id("ext-123")
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    moto.config_as(aws_credential_types::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "assumed",
    ))
    .await
}

#[tokio::test]
async fn two_policies_for_two_accounts_converge_independently() {
    let (moto, _g) = fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let role = moto.create_assumable_role(
        OTHER_ACCOUNT,
        "bedrock-logging-operator",
        "123456789012",
        Some("ext-123"),
    );
    let own = policy_file(
        &dir,
        "own",
        "  regions: [us-east-1]\n  kmsKey: {create: {alias: alias/blo}}\n  s3: {bucketName: \"logs-{accountId}-{region}\"}\n",
    );
    let other = policy_file(
        &dir,
        "other",
        &format!(
            "  regions: [us-east-1]\n  account: {{roleArn: \"{role}\", externalId: ext-123, id: \"{OTHER_ACCOUNT}\"}}\n  kmsKey: {{create: {{alias: alias/blo}}}}\n  s3: {{bucketName: \"logs-{{accountId}}-{{region}}\"}}\n"
        ),
    );
    let (code, out, err) = run_cli(moto, &["apply", "-f", &own]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run_cli(moto, &["apply", "-f", &other]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains(&format!("ACCOUNT {OTHER_ACCOUNT}")), "{out}");

    // Each account holds its own bucket, encrypted with its own key.
    let own_s3 = s3::Client::from_conf(
        s3::config::Builder::from(&moto.config().await)
            .force_path_style(true)
            .build(),
    );
    let other_cfg = assumed_config(moto, &role).await;
    let other_s3 = s3::Client::from_conf(
        s3::config::Builder::from(&other_cfg)
            .force_path_style(true)
            .build(),
    );
    let names = |o: s3::operation::list_buckets::ListBucketsOutput| {
        o.buckets()
            .iter()
            .map(|b| b.name().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let own_buckets = names(own_s3.list_buckets().send().await.unwrap());
    let other_buckets = names(other_s3.list_buckets().send().await.unwrap());
    assert!(
        own_buckets.contains(&"logs-123456789012-us-east-1".to_string()),
        "{own_buckets:?}"
    );
    assert!(
        other_buckets.contains(&format!("logs-{OTHER_ACCOUNT}-us-east-1")),
        "{other_buckets:?}"
    );
    let enc = other_s3
        .get_bucket_encryption()
        .bucket(format!("logs-{OTHER_ACCOUNT}-us-east-1"))
        .send()
        .await
        .unwrap();
    let key = enc.server_side_encryption_configuration().unwrap().rules()[0]
        .apply_server_side_encryption_by_default()
        .unwrap()
        .kms_master_key_id()
        .unwrap()
        .to_string();
    assert!(key.contains(&format!(":{OTHER_ACCOUNT}:key/")), "{key}");

    let (code, out, _) = run_cli(moto, &["check", "-f", &own, "-f", &other, "-o", "json"]);
    assert_eq!(code, 0, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["policies"][0]["account"], "123456789012");
    assert_eq!(v["policies"][1]["account"], OTHER_ACCOUNT);
}

#[tokio::test]
async fn a_wrong_account_pin_writes_nothing() {
    let (moto, _g) = fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let role = moto.create_assumable_role(
        OTHER_ACCOUNT,
        "bedrock-logging-operator",
        "123456789012",
        None,
    );
    let file = policy_file(
        &dir,
        "pinned",
        &format!(
            "  regions: [us-east-1, eu-west-1]\n  account: {{roleArn: \"{role}\", id: \"111122223333\"}}\n  kmsKey: {{create: {{alias: alias/blo}}}}\n  s3: {{bucketName: \"logs-{{accountId}}-{{region}}\"}}\n"
        ),
    );
    moto.start_recording();
    let (code, out, _) = run_cli(moto, &["apply", "-f", &file]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("spec.account.id is 111122223333") && out.contains(OTHER_ACCOUNT),
        "{out}"
    );
    let calls = moto.recorded();
    assert_eq!(writes(&calls), Vec::<String>::new());
    assert!(
        calls.iter().all(|c| c.service == "sts"),
        "only STS was called: {calls:?}"
    );
}

async fn make_trail(moto: &Moto, name: &str, multi_region: bool) -> cloudtrail::Client {
    let cfg = moto.config().await;
    let s3c = s3::Client::from_conf(
        s3::config::Builder::from(&cfg)
            .force_path_style(true)
            .build(),
    );
    s3c.create_bucket()
        .bucket("trail-bucket")
        .send()
        .await
        .unwrap();
    let ct = cloudtrail::Client::new(&cfg);
    ct.create_trail()
        .name(name)
        .s3_bucket_name("trail-bucket")
        .is_multi_region_trail(multi_region)
        .send()
        .await
        .unwrap();
    // As on AWS, a new trail does not log until StartLogging.
    ct.start_logging().name(name).send().await.unwrap();
    ct
}

/// Defects 4 and 11: the default selector set (with `Prompt`) is accepted by CloudTrail's type
/// table (the strict layer rejects `AWS::Bedrock::Prompt` as AWS does); a single-region trail
/// homed in another region is found and written there; a stopped trail fails the check.
#[tokio::test]
async fn a_trail_in_another_region_is_found_and_a_stopped_trail_fails() {
    let (moto, _g) = fresh().await;
    let cfg = moto.config().await;
    let s3c = s3::Client::from_conf(
        s3::config::Builder::from(&cfg)
            .region(aws_config::Region::new("eu-west-1"))
            .force_path_style(true)
            .build(),
    );
    s3c.create_bucket()
        .bucket("trail-bucket-eu")
        .create_bucket_configuration(
            s3::types::CreateBucketConfiguration::builder()
                .location_constraint(s3::types::BucketLocationConstraint::from("eu-west-1"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let ct = cloudtrail::Client::from_conf(
        cloudtrail::config::Builder::from(&cfg)
            .region(aws_config::Region::new("eu-west-1"))
            .build(),
    );
    ct.create_trail()
        .name("eu-trail")
        .s3_bucket_name("trail-bucket-eu")
        .is_multi_region_trail(false)
        .send()
        .await
        .unwrap();
    ct.start_logging().name("eu-trail").send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // regions[0] is us-east-1; the trail lives in eu-west-1. Default data events (Prompt incl.).
    let file = policy_file(
        &dir,
        "eutrail",
        "  regions: [us-east-1, eu-west-1]\n  kmsKey: {create: {alias: alias/blo}}\n  s3: {bucketName: \"logs-{accountId}-{region}\"}\n  cloudTrail: {trailName: eu-trail}\n",
    );
    let (code, out, err) = run_cli(moto, &["apply", "-f", &file, "-o", "json"]);
    assert!(
        moto.strict_fired("cloudtrail_types").is_empty(),
        "CloudTrail would reject our selectors: {:?}",
        moto.strict_fired("cloudtrail_types")
    );
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    let got = ct
        .get_event_selectors()
        .trail_name("eu-trail")
        .send()
        .await
        .unwrap();
    let types: Vec<String> = got
        .advanced_event_selectors()
        .iter()
        .flat_map(|s| {
            s.field_selectors()
                .iter()
                .filter(|f| f.field() == "resources.type")
                .flat_map(|f| f.equals().to_vec())
        })
        .collect();
    assert!(
        types.contains(&"AWS::Bedrock::PromptVersion".to_string()),
        "{types:?}\n{out}\n{err}"
    );
    assert!(
        !types.contains(&"AWS::Bedrock::Prompt".to_string()),
        "{types:?}"
    );
    // A single-region trail of eu-west-1 does not record us-east-1: that region fails, the
    // trail's own region passes.
    let finding = |region: &str| {
        v["policies"][0]["regions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["region"] == region)
            .and_then(|r| {
                r["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|f| f["id"] == "bedrock_cloudtrail_data_events_enabled")
                    .cloned()
            })
            .unwrap()
    };
    assert_eq!(finding("eu-west-1")["status"], "PASS", "{out}");
    assert_eq!(finding("us-east-1")["status"], "FAIL", "{out}");
    assert_eq!(
        code, 1,
        "us-east-1 is not recorded by a single-region eu-west-1 trail"
    );

    ct.stop_logging().name("eu-trail").send().await.unwrap();
    let (_, out, _) = run_cli(moto, &["check", "-f", &file, "-o", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let eu = v["policies"][0]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "eu-west-1")
        .unwrap()
        .clone();
    let f = eu["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "bedrock_cloudtrail_data_events_enabled")
        .unwrap();
    assert_eq!(f["status"], "FAIL", "{f}");
    assert!(
        f["message"].as_str().unwrap().contains("not logging"),
        "{f}"
    );
}

fn field(name: &str, equals: &[&str]) -> cloudtrail::types::AdvancedFieldSelector {
    cloudtrail::types::AdvancedFieldSelector::builder()
        .field(name)
        .set_equals(Some(equals.iter().map(|s| s.to_string()).collect()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn cloudtrail_selectors_are_merged_keeping_foreign_ones() {
    let (moto, _g) = fresh().await;
    let ct = make_trail(moto, "org-trail", true).await;
    let foreign = cloudtrail::types::AdvancedEventSelector::builder()
        .name("S3 object events")
        .field_selectors(field("eventCategory", &["Data"]))
        .field_selectors(field("resources.type", &["AWS::S3::Object"]))
        .build()
        .unwrap();
    ct.put_event_selectors()
        .trail_name("org-trail")
        .advanced_event_selectors(foreign)
        .send()
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(
        &dir,
        "trail",
        "  regions: [us-east-1, eu-west-1]\n  kmsKey: {create: {alias: alias/blo}}\n  s3: {bucketName: \"logs-{accountId}-{region}\"}\n  cloudTrail: {trailName: org-trail, dataEvents: [Model, Guardrail, KnowledgeBase]}\n",
    );
    let (code, out, _) = run_cli(moto, &["check", "-f", &file]);
    assert_eq!(code, 1);
    assert!(out.contains("does not record AWS::Bedrock::Model"), "{out}");
    let (code, out, err) = run_cli(moto, &["apply", "-f", &file]);
    assert_eq!(code, 0, "{out}\n{err}");

    let got = ct
        .get_event_selectors()
        .trail_name("org-trail")
        .send()
        .await
        .unwrap();
    let selectors = got.advanced_event_selectors();
    assert_eq!(
        selectors[0].name(),
        Some("S3 object events"),
        "foreign selector kept first"
    );
    let types: Vec<String> = selectors
        .iter()
        .flat_map(|s| {
            s.field_selectors()
                .iter()
                .filter(|f| f.field() == "resources.type")
                .flat_map(|f| f.equals().to_vec())
        })
        .collect();
    for t in [
        "AWS::S3::Object",
        "AWS::Bedrock::Model",
        "AWS::Bedrock::Guardrail",
        "AWS::Bedrock::KnowledgeBase",
    ] {
        assert!(types.contains(&t.to_string()), "{t} missing: {types:?}");
    }
    assert_eq!(
        selectors.len(),
        4,
        "one selector per listed Bedrock type, plus the foreign one"
    );

    moto.start_recording();
    let (code, out, _) = run_cli(moto, &["apply", "-f", &file, "-o", "json"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        writes(&moto.recorded()),
        Vec::<String>::new(),
        "merged selectors are stable"
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    for region in v["policies"][0]["regions"].as_array().unwrap() {
        let f = region["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == "bedrock_cloudtrail_data_events_enabled")
            .unwrap();
        assert_eq!(f["status"], "PASS", "{f}");
    }
}

#[tokio::test]
async fn basic_selectors_are_converted_and_a_missing_trail_is_a_clear_error() {
    let (moto, _g) = fresh().await;
    let ct = make_trail(moto, "classic", true).await;
    let basic = cloudtrail::types::EventSelector::builder()
        .read_write_type(cloudtrail::types::ReadWriteType::All)
        .include_management_events(true)
        .build();
    ct.put_event_selectors()
        .trail_name("classic")
        .event_selectors(basic)
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(
        &dir,
        "classic",
        "  regions: [us-east-1]\n  kmsKey: {create: {alias: alias/blo}}\n  s3: {bucketName: \"logs-{accountId}-{region}\"}\n  cloudTrail: {trailName: classic, dataEvents: [Model]}\n",
    );
    let (code, out, err) = run_cli(moto, &["apply", "-f", &file]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("basic selector(s) converted to advanced"),
        "{out}"
    );
    let got = ct
        .get_event_selectors()
        .trail_name("classic")
        .send()
        .await
        .unwrap();
    let adv = got.advanced_event_selectors();
    assert!(
        adv.iter().any(|s| s
            .field_selectors()
            .iter()
            .any(|f| f.field() == "eventCategory" && f.equals() == ["Management"])),
        "management events still recorded"
    );
    assert!(adv.iter().any(|s| {
        s.field_selectors()
            .iter()
            .any(|f| f.equals() == ["AWS::Bedrock::Model"])
    }));

    let missing = policy_file(
        &dir,
        "missing",
        "  regions: [us-east-1]\n  kmsKey: {create: {alias: alias/blo}}\n  s3: {bucketName: \"logs-{accountId}-{region}\"}\n  cloudTrail: {trailName: nope}\n",
    );
    let (code, out, _) = run_cli(moto, &["check", "-f", &missing]);
    assert_eq!(code, 2, "a missing trail is an error, not a finding: {out}");
    assert!(
        out.contains("spec.cloudTrail.trailName: trail nope does not exist"),
        "{out}"
    );
}

/// Defect 6: AssumeRole denials (a trust that does not admit the operator, a wrong ExternalId)
/// are terminal errors naming spec.account.roleArn, and nothing is written.
#[tokio::test]
async fn assume_role_denials_are_terminal_and_name_the_field() {
    let (moto, _g) = fresh().await;
    if !moto.strict {
        // Plain moto lets anyone assume any role: only the strict layer checks the trust.
        eprintln!("skipped on the plain emulator: AssumeRole trust is checked by the strict layer");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let role = moto.create_assumable_role(OTHER_ACCOUNT, "blo", "123456789012", Some("right"));
    for external in ["wrong", ""] {
        let account = if external.is_empty() {
            format!("{{roleArn: \"{role}\"}}")
        } else {
            format!("{{roleArn: \"{role}\", externalId: {external}}}")
        };
        let file = policy_file(
            &dir,
            "denied",
            &format!(
                "  regions: [us-east-1]\n  account: {account}\n  kmsKey: {{create: {{alias: alias/blo}}}}\n  s3: {{bucketName: \"logs-{{accountId}}-{{region}}\"}}\n"
            ),
        );
        moto.start_recording();
        let (code, out, err) = run_cli(moto, &["apply", "-f", &file]);
        assert_eq!(code, 2, "{out}\n{err}");
        assert!(out.contains("spec.account.roleArn: cannot assume"), "{out}");
        assert!(writes(&moto.recorded()).is_empty());
    }
    if moto.strict {
        assert!(!moto.strict_fired("sts_assume_role_trust").is_empty());
    }
}

/// SPEC §5 / issue 12: `check --export securityhub` imports one ASFF finding per region × check
/// into the governed account's Security Hub; the ids are stable, so a second export updates the
/// same findings instead of adding more.
#[tokio::test]
async fn check_exports_findings_to_security_hub_and_a_second_export_updates_them() {
    let (moto, _g) = fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(
        &dir,
        "hub",
        "  regions: [us-east-1, eu-west-1]\n  kmsKey: {create: {alias: alias/hub}}\n  s3: {bucketName: \"hub-{accountId}-{region}\"}\n",
    );
    let (code, out, err) = run_cli(moto, &["apply", "-f", &file]);
    assert_eq!(code, 0, "{out}\n{err}");
    let count = |region: &'static str| async move {
        let cfg = moto.config().await;
        let hub = aws_sdk_securityhub::Client::from_conf(
            aws_sdk_securityhub::config::Builder::from(&cfg)
                .region(aws_config::Region::new(region))
                .build(),
        );
        let got = hub.get_findings().max_results(100).send().await.unwrap();
        got.findings()
            .iter()
            .filter(|f| {
                f.id()
                    .is_some_and(|i| i.starts_with("bedrock-logging-operator/"))
            })
            .count()
    };
    for round in 0..2 {
        let (code, out, err) = run_cli(moto, &["check", "-f", &file, "--export", "securityhub"]);
        assert_eq!(code, 0, "round {round}: {out}\n{err}");
        assert!(
            err.contains("exported 22 finding(s) of hub to Security Hub"),
            "{err}"
        );
        assert!(!err.contains("refused"), "{err}");
        assert_eq!(
            count("us-east-1").await,
            11,
            "round {round}: one per check, no duplicates"
        );
        assert_eq!(
            count("eu-west-1").await,
            11,
            "round {round}: each region's own hub"
        );
    }
}
