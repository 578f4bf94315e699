//! A PASS and a FAIL fixture for every finding: a fully compliant region, then one mutation per
//! check that must turn exactly that check to FAIL.

use serde_json::json;

use super::desired::{RegionDesired, RoleDesired};
use super::findings::*;
use super::observe::{BucketObserved, KeyObserved, RegionObserved, RoleObserved};
use crate::api::{BedrockLoggingPolicySpec, FindingResult, TrailDataEvent};
use crate::cloud::{
    BucketEncryption, BucketPresence, KeyInfo, LogGroupInfo, PublicAccessBlock, RoleInfo,
    TrailInfo, TrailSelectors,
};
use crate::policy_doc::{bucket_policy, key_policy, role_policy};

const R: &str = "us-east-1";
const A: &str = "123456789012";
const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn desired() -> RegionDesired {
    let v: serde_json::Value = serde_yaml::from_str(
        "apiVersion: bedrocklogging.io/v1alpha1\nkind: BedrockLoggingPolicy\nmetadata: {name: f}\nspec:\n  regions: [us-east-1]\n  kmsKey: {create: {alias: alias/f}}\n  s3: {bucketName: \"f-logs-{region}\"}\n  cloudWatch:\n    logGroupName: /aws/bedrock/f\n    retentionInDays: 30\n    largeDataDelivery: {bucketName: \"f-large-{region}\"}\n  cloudTrail: {trailName: org, dataEvents: [Model]}\n  tamperResponse: {queueName: f-tamper}\n",
    )
    .unwrap();
    let spec: BedrockLoggingPolicySpec = serde_json::from_value(
        crate::api::validate_file::validate_value(&v).unwrap()["spec"].clone(),
    )
    .unwrap();
    RegionDesired::resolve("f", &spec, R, A)
}

fn bucket(policy: serde_json::Value) -> BucketObserved {
    BucketObserved {
        presence: BucketPresence::Owned,
        encryption: Some(BucketEncryption {
            algorithm: "aws:kms".into(),
            kms_key_id: Some(KEY.into()),
            bucket_key_enabled: true,
        }),
        public_access_block: Some(PublicAccessBlock::ALL),
        ownership: Some("BucketOwnerEnforced".into()),
        policy: Some(json!({"Version": "2012-10-17", "Statement": [policy]}).to_string()),
    }
}

struct World {
    d: RegionDesired,
    o: RegionObserved,
    role: RoleObserved,
    trail: TrailObserved,
}

fn compliant() -> World {
    let d = desired();
    let o = RegionObserved {
        key: Some(KeyObserved {
            info: KeyInfo {
                arn: KEY.into(),
                key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
                enabled: true,
                state: "Enabled".into(),
                spec: "SYMMETRIC_DEFAULT".into(),
                usage: "ENCRYPT_DECRYPT".into(),
                manager: "CUSTOMER".into(),
                created: 0,
            },
            alias_present: true,
            rotation: true,
            policy: key_policy::initial_policy(R, A, Some("/aws/bedrock/f")).to_string(),
            policy_readable: true,
            extra_keys: vec![],
        }),
        bucket: Some(bucket(bucket_policy::logs_write_statement(
            R,
            A,
            "f-logs-us-east-1",
            None,
        ))),
        large_bucket: Some(bucket(bucket_policy::large_data_write_statement(
            R,
            A,
            "f-large-us-east-1",
            None,
        ))),
        log_group: Some(LogGroupInfo {
            arn: "arn:aws:logs:us-east-1:123456789012:log-group:/aws/bedrock/f".into(),
            kms_key_id: Some(KEY.into()),
            retention_in_days: Some(30),
        }),
        logging: Some(d.logging_config()),
        tamper: d.tamper.as_ref().map(|t| super::tamper::TamperObserved {
            queue: Some(crate::cloud::QueueInfo {
                url: "https://sqs.us-east-1.amazonaws.com/123456789012/f-tamper".into(),
                arn: t.queue_arn.clone(),
                policy: Some(t.queue_policy().to_string()),
                sse_sqs: true,
                kms_key: None,
            }),
            rule: Some(crate::cloud::RuleInfo {
                arn: t.rule_arn.clone(),
                pattern: Some(super::tamper::TamperDesired::pattern().to_string()),
                enabled: true,
            }),
            targets: vec![crate::cloud::RuleTarget {
                id: super::tamper::TARGET_ID.into(),
                arn: t.queue_arn.clone(),
            }],
        }),
    };
    let RoleDesired::Managed { arn, .. } = d.role.clone().unwrap() else {
        panic!()
    };
    let role = RoleObserved {
        role: Some(RoleInfo {
            arn,
            trust_policy: role_policy::trust_document("f", A, &[R.into()]).to_string(),
        }),
        inline_policy: None,
    };
    let trail = TrailObserved::Found {
        info: TrailInfo {
            arn: "arn:aws:cloudtrail:us-east-1:123456789012:trail/org".into(),
            name: "org".into(),
            home_region: R.into(),
            multi_region: true,
        },
        selectors: TrailSelectors {
            advanced: vec![super::plan_trail::bedrock_selector(TrailDataEvent::Model)],
            basic: vec![],
        },
        logging: true,
    };
    World { d, o, role, trail }
}

fn eval(w: &World) -> Vec<Finding> {
    evaluate(&FindingInputs {
        desired: &w.d,
        observed: &w.o,
        role: Some(&w.role),
        trail: Some(&w.trail),
    })
}

fn status_of(fs: &[Finding], id: &str) -> FindingResult {
    fs.iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("{id} not evaluated"))
        .status
}

/// Checks reported only when they fail.
const CONDITIONAL: &[&str] = &[super::findings::SINGLE_KEY];

/// Defect 10: duplicate keys from a lost CreateKey response are reported (never deleted).
#[test]
fn duplicate_tagged_keys_are_a_warning_naming_them() {
    let mut w = compliant();
    w.o.key.as_mut().unwrap().extra_keys =
        vec!["arn:aws:kms:us-east-1:123456789012:key/dup".into()];
    let fs = eval(&w);
    let f = fs
        .iter()
        .find(|f| f.id == super::findings::SINGLE_KEY)
        .expect("reported");
    assert_eq!(f.status, FindingResult::Warn);
    assert!(
        f.message.contains("key/dup") && f.message.contains("schedule their deletion manually")
    );
}

#[test]
fn every_check_passes_on_a_compliant_region() {
    let fs = eval(&compliant());
    assert_eq!(
        fs.len(),
        CHECKS.len() - CONDITIONAL.len(),
        "one finding per check (conditional ones only when they fail)"
    );
    for f in &fs {
        assert_eq!(f.status, FindingResult::Pass, "{}: {}", f.id, f.message);
    }
}

#[test]
fn each_check_fails_on_its_own_fixture() {
    type Mutation = fn(&mut World);
    let cases: Vec<(&str, Mutation, &str)> = vec![
        (LOGGING_ENABLED, |w| w.o.logging = None, "logging is off"),
        (
            LOGS_ENCRYPTED,
            |w| {
                w.o.bucket.as_mut().unwrap().encryption = Some(BucketEncryption {
                    algorithm: "AES256".into(),
                    kms_key_id: None,
                    bucket_key_enabled: false,
                })
            },
            "SSE-S3 (AES256)",
        ),
        (
            LOGS_ENCRYPTED,
            |w| w.o.log_group.as_mut().unwrap().kms_key_id = None,
            "has no KMS key",
        ),
        (
            LOGS_ENCRYPTED,
            |w| {
                w.o.large_bucket
                    .as_mut()
                    .unwrap()
                    .encryption
                    .as_mut()
                    .unwrap()
                    .kms_key_id = Some("arn:aws:kms:us-east-1:123456789012:key/other".into())
            },
            "is encrypted with arn:aws:kms:us-east-1:123456789012:key/other",
        ),
        (
            LOGS_ENCRYPTED,
            |w| {
                let k = w.o.key.as_mut().unwrap();
                k.info.enabled = false;
                k.info.state = "PendingDeletion".into();
            },
            "PendingDeletion",
        ),
        (
            TEXT_DATA,
            |w| w.o.logging.as_mut().unwrap().text = Some(false),
            "text data delivery is disabled",
        ),
        (
            KEY_ROTATION,
            |w| w.o.key.as_mut().unwrap().rotation = false,
            "rotation is off",
        ),
        (
            BUCKET_PUBLIC_ACCESS,
            |w| {
                w.o.large_bucket.as_mut().unwrap().public_access_block = Some(PublicAccessBlock {
                    block_public_policy: false,
                    ..PublicAccessBlock::ALL
                })
            },
            "f-large-us-east-1 does not block all public access",
        ),
        (
            BUCKET_ACLS,
            |w| w.o.bucket.as_mut().unwrap().ownership = Some("ObjectWriter".into()),
            "object ownership is ObjectWriter",
        ),
        (
            LOG_RETENTION,
            |w| w.o.log_group.as_mut().unwrap().retention_in_days = Some(7),
            "retention is 7 days (policy: 30 days)",
        ),
        (
            ROLE_CONFUSED_DEPUTY,
            |w| {
                w.role.role.as_mut().unwrap().trust_policy = json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole"}]}).to_string()
            },
            "does not restrict bedrock.amazonaws.com",
        ),
        (
            KEY_POLICY_CONTEXT,
            |w| {
                w.o.key.as_mut().unwrap().policy =
                    json!({"Statement": [key_policy::root_statement(R, A)]}).to_string()
            },
            "statement AllowCloudWatchLogsUseOfTheKey added",
        ),
        (
            CLOUDTRAIL_DATA_EVENTS,
            |w| {
                w.trail = TrailObserved::Found {
                    info: TrailInfo {
                        arn: "a".into(),
                        name: "org".into(),
                        home_region: R.into(),
                        multi_region: true,
                    },
                    selectors: TrailSelectors::default(),
                    logging: true,
                }
            },
            "does not record AWS::Bedrock::Model",
        ),
        (
            CLOUDTRAIL_DATA_EVENTS,
            |w| {
                if let TrailObserved::Found { logging, .. } = &mut w.trail {
                    *logging = false;
                }
            },
            "is not logging",
        ),
        (
            LOGS_ENCRYPTED,
            |w| {
                let b = w.o.bucket.as_mut().unwrap();
                b.encryption.as_mut().unwrap().bucket_key_enabled = false;
            },
            "BucketKeyEnabled",
        ),
        (
            ROLE_CONFUSED_DEPUTY,
            |w| {
                let info = w.role.role.as_mut().unwrap();
                let mut doc: serde_json::Value = serde_json::from_str(&info.trust_policy).unwrap();
                doc["Statement"][0]["Effect"] = serde_json::json!("Deny");
                info.trust_policy = doc.to_string();
            },
            "does not let Bedrock",
        ),
        (
            CLOUDTRAIL_DATA_EVENTS,
            |w| {
                w.trail = TrailObserved::Found {
                    info: TrailInfo {
                        arn: "a".into(),
                        name: "org".into(),
                        home_region: "eu-west-1".into(),
                        multi_region: false,
                    },
                    selectors: TrailSelectors {
                        advanced: vec![super::plan_trail::bedrock_selector(TrailDataEvent::Model)],
                        basic: vec![],
                    },
                    logging: true,
                }
            },
            "single-region trail in eu-west-1",
        ),
        (
            TAMPER_RESPONSE,
            |w| {
                if let Some(t) = w.o.tamper.as_mut() {
                    t.queue.as_mut().unwrap().sse_sqs = false;
                }
            },
            "is not encrypted",
        ),
    ];
    let mut covered = std::collections::BTreeSet::new();
    for (id, mutate, expect) in cases {
        let mut w = compliant();
        mutate(&mut w);
        let fs = eval(&w);
        let f = fs.iter().find(|f| f.id == id).unwrap();
        assert_eq!(f.status, FindingResult::Fail, "{id} should fail");
        assert!(
            f.message.contains(expect),
            "{id}: `{}` lacks `{expect}`",
            f.message
        );
        covered.insert(id);
    }
    assert_eq!(
        covered.len(),
        CHECKS.len() - CONDITIONAL.len(),
        "a FAIL fixture for every check"
    );
}

#[test]
fn controls_the_policy_does_not_ask_for_are_warnings_or_skipped() {
    let mut w = compliant();
    w.d.log_group.as_mut().unwrap().retention = None;
    w.o.log_group.as_mut().unwrap().retention_in_days = None;
    w.d.trail_events.clear();
    let fs = eval(&w);
    let retention = fs.iter().find(|f| f.id == LOG_RETENTION).unwrap();
    assert_eq!(
        retention.status,
        FindingResult::Warn,
        "reported, not required"
    );
    assert!(!retention.blocks_compliance());
    assert_eq!(status_of(&fs, CLOUDTRAIL_DATA_EVENTS), FindingResult::Skip);
    w.d.tamper = None;
    assert_eq!(status_of(&eval(&w), TAMPER_RESPONSE), FindingResult::Skip);
}
