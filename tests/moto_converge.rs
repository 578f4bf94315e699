//! Integration tests against moto: the engine through the real AWS SDK, and the CLI's exit
//! codes. AWS state is read back field by field with the SDK; write calls are counted with
//! moto's request recorder.

mod common;

use aws_sdk_iam as iam;
use aws_sdk_kms as kms;
use aws_sdk_s3 as s3;
use common::*;
use serde_json::Value;

const ACCOUNT: &str = "123456789012";
const DEMO: &str = "  regions: [us-east-1, eu-west-1]
  kmsKey: {create: {alias: alias/it}}
  s3: {bucketName: \"it-logs-{accountId}-{region}\", keyPrefix: bedrock}
  cloudWatch:
    logGroupName: /aws/bedrock/it
    retentionInDays: 90
    largeDataDelivery: {bucketName: \"it-large-{accountId}-{region}\", keyPrefix: large}
";

fn stmt<'a>(doc: &'a Value, sid: &str) -> &'a Value {
    doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("statement {sid} missing in {doc}"))
}

fn one_or_many(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        _ => vec![],
    }
}

#[tokio::test]
async fn apply_converges_two_regions_and_aws_state_is_exactly_as_specified() {
    let (moto, _g) = fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(&dir, "it", DEMO);
    let (code, out, err) = run_cli(moto, &["apply", "-f", &file]);
    assert_eq!(code, 0, "apply failed:\n{out}\n{err}");

    let iam_c = iam::Client::new(&moto.config().await);
    let role = iam_c
        .get_role()
        .role_name("BedrockModelInvocationLoggingRole")
        .send()
        .await
        .unwrap();
    let role = role.role().unwrap();
    let trust: Value = serde_json::from_str(
        &urlencoding::decode(role.assume_role_policy_document().unwrap()).unwrap(),
    )
    .unwrap();
    let t = &trust["Statement"][0];
    assert_eq!(t["Principal"]["Service"], "bedrock.amazonaws.com");
    assert_eq!(t["Condition"]["StringEquals"]["aws:SourceAccount"], ACCOUNT);
    let mut arns = one_or_many(&t["Condition"]["ArnLike"]["aws:SourceArn"]);
    arns.sort();
    assert_eq!(
        arns,
        vec![
            "arn:aws:bedrock:eu-west-1:123456789012:*",
            "arn:aws:bedrock:us-east-1:123456789012:*"
        ]
    );
    let inline = iam_c
        .get_role_policy()
        .role_name("BedrockModelInvocationLoggingRole")
        .policy_name(blo::policy_doc::role_policy::inline_policy_name("it"))
        .send()
        .await
        .unwrap();
    let inline: Value =
        serde_json::from_str(&urlencoding::decode(inline.policy_document()).unwrap()).unwrap();
    let write = stmt(&inline, "WriteModelInvocationLogs");
    assert!(one_or_many(&write["Resource"]).contains(&"arn:aws:logs:eu-west-1:123456789012:log-group:/aws/bedrock/it:log-stream:aws/bedrock/modelinvocations".to_string()));
    let use_key = stmt(&inline, "UseLoggingKeyThroughCloudWatchLogs");
    assert_eq!(one_or_many(&use_key["Resource"]).len(), 2);
    assert!(
        one_or_many(&use_key["Condition"]["StringEquals"]["kms:ViaService"])
            .contains(&"logs.us-east-1.amazonaws.com".to_string())
    );

    for region in ["us-east-1", "eu-west-1"] {
        let kms_c = moto.kms(region).await;
        let key = kms_c
            .describe_key()
            .key_id("alias/it")
            .send()
            .await
            .unwrap();
        let meta = key.key_metadata().unwrap();
        let key_arn = meta.arn().unwrap().to_string();
        assert_eq!(meta.key_spec().unwrap().as_str(), "SYMMETRIC_DEFAULT");
        assert!(
            kms_c
                .get_key_rotation_status()
                .key_id(meta.key_id())
                .send()
                .await
                .unwrap()
                .key_rotation_enabled()
        );
        let tags = kms_c
            .list_resource_tags()
            .key_id(meta.key_id())
            .send()
            .await
            .unwrap();
        assert!(
            tags.tags()
                .iter()
                .any(|t| t.tag_key() == "bedrocklogging.io/policy" && t.tag_value() == "it")
        );
        let kp: Value = serde_json::from_str(
            kms_c
                .get_key_policy()
                .key_id(meta.key_id())
                .policy_name("default")
                .send()
                .await
                .unwrap()
                .policy()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            stmt(&kp, "EnableRootAccountPermissions")["Principal"]["AWS"],
            "arn:aws:iam::123456789012:root"
        );
        let b = stmt(&kp, "AllowBedrockLoggingGenerateDataKey");
        assert_eq!(
            b["Condition"]["ArnLike"]["aws:SourceArn"],
            format!("arn:aws:bedrock:{region}:123456789012:*")
        );
        let l = stmt(&kp, "AllowCloudWatchLogsUseOfTheKey");
        assert_eq!(
            l["Principal"]["Service"],
            format!("logs.{region}.amazonaws.com")
        );
        assert_eq!(
            l["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"],
            format!("arn:aws:logs:{region}:123456789012:log-group:/aws/bedrock/it")
        );

        let s3c = moto.s3(region).await;
        for (bucket, sid, resource) in [
            (
                format!("it-logs-{ACCOUNT}-{region}"),
                "AmazonBedrockLogsWrite",
                format!(
                    "arn:aws:s3:::it-logs-{ACCOUNT}-{region}/bedrock/AWSLogs/{ACCOUNT}/BedrockModelInvocationLogs/*"
                ),
            ),
            (
                format!("it-large-{ACCOUNT}-{region}"),
                "AmazonBedrockLargeDataWrite",
                format!("arn:aws:s3:::it-large-{ACCOUNT}-{region}/large/*"),
            ),
        ] {
            let enc = s3c
                .get_bucket_encryption()
                .bucket(&bucket)
                .send()
                .await
                .unwrap();
            let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
            let def = rule.apply_server_side_encryption_by_default().unwrap();
            assert_eq!(def.sse_algorithm().as_str(), "aws:kms", "{bucket}");
            assert_eq!(def.kms_master_key_id(), Some(key_arn.as_str()), "{bucket}");
            assert_eq!(rule.bucket_key_enabled(), Some(true), "{bucket}");
            let pab = s3c
                .get_public_access_block()
                .bucket(&bucket)
                .send()
                .await
                .unwrap();
            let pab = pab.public_access_block_configuration().unwrap();
            assert_eq!(
                (
                    pab.block_public_acls(),
                    pab.ignore_public_acls(),
                    pab.block_public_policy(),
                    pab.restrict_public_buckets()
                ),
                (Some(true), Some(true), Some(true), Some(true))
            );
            let own = s3c
                .get_bucket_ownership_controls()
                .bucket(&bucket)
                .send()
                .await
                .unwrap();
            assert_eq!(
                own.ownership_controls().unwrap().rules()[0]
                    .object_ownership()
                    .as_str(),
                "BucketOwnerEnforced"
            );
            let pol: Value = serde_json::from_str(
                s3c.get_bucket_policy()
                    .bucket(&bucket)
                    .send()
                    .await
                    .unwrap()
                    .policy()
                    .unwrap(),
            )
            .unwrap();
            let st = stmt(&pol, sid);
            assert_eq!(st["Action"], "s3:PutObject");
            assert_eq!(st["Principal"]["Service"], "bedrock.amazonaws.com");
            assert_eq!(st["Resource"], resource);
            assert_eq!(
                st["Condition"]["StringEquals"]["aws:SourceAccount"],
                ACCOUNT
            );
            assert_eq!(
                st["Condition"]["ArnLike"]["aws:SourceArn"],
                format!("arn:aws:bedrock:{region}:{ACCOUNT}:*")
            );
        }

        let lg = moto
            .logs(region)
            .await
            .describe_log_groups()
            .log_group_name_prefix("/aws/bedrock/it")
            .send()
            .await
            .unwrap();
        let g = &lg.log_groups()[0];
        assert_eq!(g.kms_key_id(), Some(key_arn.as_str()));
        assert_eq!(g.retention_in_days(), Some(90));

        let cfg = moto
            .bedrock(region)
            .await
            .get_model_invocation_logging_configuration()
            .send()
            .await
            .unwrap();
        let cfg = cfg.logging_config().unwrap();
        let s3cfg = cfg.s3_config().unwrap();
        assert_eq!(s3cfg.bucket_name(), format!("it-logs-{ACCOUNT}-{region}"));
        assert_eq!(s3cfg.key_prefix(), Some("bedrock"));
        let cw = cfg.cloud_watch_config().unwrap();
        assert_eq!(cw.log_group_name(), "/aws/bedrock/it");
        assert_eq!(
            cw.role_arn(),
            "arn:aws:iam::123456789012:role/BedrockModelInvocationLoggingRole"
        );
        assert_eq!(
            cw.large_data_delivery_s3_config().unwrap().bucket_name(),
            format!("it-large-{ACCOUNT}-{region}")
        );
        for flag in [
            cfg.text_data_delivery_enabled(),
            cfg.image_data_delivery_enabled(),
            cfg.embedding_data_delivery_enabled(),
            cfg.video_data_delivery_enabled(),
            cfg.audio_data_delivery_enabled(),
        ] {
            assert_ne!(flag, Some(false), "every data type on");
        }
    }
}

#[tokio::test]
async fn second_apply_and_audit_make_zero_writes() {
    let (moto, _g) = fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(&dir, "it", DEMO);

    // Audit on an empty account: non-compliant, nothing written.
    moto.start_recording();
    let (code, out, _) = run_cli(moto, &["check", "-f", &file]);
    assert_eq!(code, 1, "{out}");
    let calls = moto.recorded();
    assert!(!calls.is_empty());
    assert_eq!(writes(&calls), Vec::<String>::new(), "check must not write");

    let audit = policy_file(
        &dir,
        "audit",
        &DEMO.replace("  regions:", "  mode: Audit\n  regions:"),
    );
    moto.start_recording();
    let (code, _, err) = run_cli(moto, &["apply", "-f", &audit]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        writes(&moto.recorded()),
        Vec::<String>::new(),
        "an Audit policy must never write"
    );

    moto.start_recording();
    let (code, out, _) = run_cli(moto, &["apply", "--dry-run", "-f", &file]);
    assert_eq!(code, 1, "dry run with pending changes exits 1");
    assert!(
        out.contains("Planned changes") && out.contains("KMS key alias/it created"),
        "{out}"
    );
    assert_eq!(
        writes(&moto.recorded()),
        Vec::<String>::new(),
        "dry run must not write"
    );

    let (code, out, err) = run_cli(moto, &["apply", "-f", &file]);
    assert_eq!(code, 0, "{out}\n{err}");

    moto.start_recording();
    let (code, out, _) = run_cli(moto, &["apply", "-f", &file]);
    assert_eq!(code, 0, "{out}");
    let calls = moto.recorded();
    assert_eq!(
        writes(&calls),
        Vec::<String>::new(),
        "a second apply must make zero write calls"
    );
    assert!(out.contains("Changes made: none"), "{out}");
    // Steady-state read budget: ≤ 15 region-scoped reads per region.
    for region in ["us-east-1", "eu-west-1"] {
        let n = calls
            .iter()
            .filter(|c| c.region == region && c.service != "iam" && c.service != "sts")
            .count();
        assert!(n <= 15, "{region}: {n} region-scoped reads");
    }
    let (code, _, _) = run_cli(moto, &["apply", "--dry-run", "-f", &file]);
    assert_eq!(code, 0, "dry run with nothing to change exits 0");
}

#[tokio::test]
async fn check_goes_from_fail_to_pass_in_json() {
    let (moto, _g) = fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(&dir, "it", DEMO);
    let (code, out, _) = run_cli(moto, &["check", "-f", &file, "-o", "json"]);
    assert_eq!(code, 1);
    let before: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(before["schemaVersion"], "bedrocklogging.io/check/v1");
    assert_eq!(
        before["policies"][0]["mode"], "Enforce",
        "check reports the policy's own mode"
    );
    let f = &before["policies"][0]["regions"][0]["findings"];
    let status = |v: &Value, id: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(
        status(f, "bedrock_model_invocation_logging_enabled"),
        "FAIL"
    );
    assert_eq!(
        status(f, "bedrock_model_invocation_logs_encryption_enabled"),
        "FAIL"
    );
    assert_eq!(run_cli(moto, &["apply", "-f", &file]).0, 0);
    let (code, out, _) = run_cli(moto, &["check", "-f", &file, "-o", "json"]);
    assert_eq!(code, 0, "{out}");
    let after: Value = serde_json::from_str(&out).unwrap();
    for region in after["policies"][0]["regions"].as_array().unwrap() {
        assert_eq!(region["state"], "Compliant");
        assert_eq!(
            status(
                &region["findings"],
                "bedrock_model_invocation_logging_enabled"
            ),
            "PASS"
        );
        assert_eq!(
            status(
                &region["findings"],
                "bedrock_model_invocation_logs_encryption_enabled"
            ),
            "PASS"
        );
    }
    assert_eq!(after["summary"]["compliant"], 1);
}

#[tokio::test]
async fn foreign_statements_survive_and_existing_bucket_is_adopted() {
    let (moto, _g) = fresh().await;
    let region = "us-east-1";
    let s3c = moto.s3(region).await;
    let bucket = "team-existing-logs";
    let foreign = moto.bucket_with_foreign_statement(bucket).await;
    let kms_c = moto.kms(region).await;
    let key_policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "SecurityTeam", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/security"}, "Action": "kms:Decrypt", "Resource": "*"}
    ]});
    let key = kms_c
        .create_key()
        .policy(key_policy.to_string())
        .send()
        .await
        .unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_string();
    kms_c
        .create_alias()
        .alias_name("alias/team-key")
        .target_key_id(&key_id)
        .send()
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(
        &dir,
        "adopt",
        &format!(
            "  regions: [{region}]\n  kmsKey: {{existing: alias/team-key}}\n  s3: {{bucketName: {bucket}, create: false}}\n"
        ),
    );
    let (code, out, err) = run_cli(moto, &["apply", "-f", &file]);
    assert_eq!(code, 0, "{out}\n{err}");

    let pol: Value = serde_json::from_str(
        s3c.get_bucket_policy()
            .bucket(bucket)
            .send()
            .await
            .unwrap()
            .policy()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        pol["Statement"][0], foreign,
        "foreign bucket statement kept unchanged"
    );
    stmt(&pol, "AmazonBedrockLogsWrite");
    let kp: Value = serde_json::from_str(
        kms_c
            .get_key_policy()
            .key_id(&key_id)
            .policy_name("default")
            .send()
            .await
            .unwrap()
            .policy()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        kp["Statement"][0]["Sid"], "Enable IAM User Permissions",
        "root statement kept"
    );
    assert_eq!(
        kp["Statement"][1]["Sid"], "SecurityTeam",
        "foreign key statement kept"
    );
    stmt(&kp, "AllowBedrockLoggingGenerateDataKey");
    let enc = s3c
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let def = enc.server_side_encryption_configuration().unwrap().rules()[0]
        .apply_server_side_encryption_by_default()
        .unwrap()
        .clone();
    assert!(def.kms_master_key_id().unwrap().ends_with(&key_id));
    let keys = kms_c.list_keys().send().await.unwrap();
    assert_eq!(
        keys.keys().len(),
        1,
        "no key created when an existing one is given"
    );
}

#[tokio::test]
async fn missing_bucket_with_create_false_fails_clearly_without_writes() {
    let (moto, _g) = fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(
        &dir,
        "missing",
        "  regions: [us-east-1]\n  kmsKey: {create: {alias: alias/x}}\n  s3: {bucketName: does-not-exist-bucket, create: false}\n",
    );
    moto.start_recording();
    let (code, out, _) = run_cli(moto, &["apply", "-f", &file]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("spec.s3.bucketName")
            && out.contains("does-not-exist-bucket")
            && out.contains("create: true"),
        "{out}"
    );
    assert_eq!(writes(&moto.recorded()), Vec::<String>::new());
}

#[tokio::test]
async fn invalid_policy_file_is_rejected_before_any_aws_call() {
    let (moto, _g) = fresh().await;
    moto.start_recording();
    let (code, _, err) = run_cli(
        moto,
        &[
            "apply",
            "-f",
            "tests/policies/invalid/bucket-no-region-placeholder.yaml",
        ],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("spec.s3.bucketName must contain {region}"),
        "{err}"
    );
    assert!(
        moto.recorded().is_empty(),
        "no AWS call for an invalid file"
    );
}

#[tokio::test]
async fn crash_after_create_key_does_not_leave_a_second_key() {
    let (moto, _g) = fresh().await;
    let kms_c = moto.kms("us-east-1").await;
    // What a crash between CreateKey and CreateAlias leaves: a tagged key without alias.
    kms_c
        .create_key()
        .tags(
            kms::types::Tag::builder()
                .tag_key("bedrocklogging.io/policy")
                .tag_value("crash")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(
        &dir,
        "crash",
        "  regions: [us-east-1]\n  kmsKey: {create: {alias: alias/crash}}\n  s3: {bucketName: \"crash-{accountId}-{region}\"}\n",
    );
    let (code, out, err) = run_cli(moto, &["apply", "-f", &file]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!out.contains("KMS key alias/crash created"), "{out}");
    assert_eq!(
        kms_c.list_keys().send().await.unwrap().keys().len(),
        1,
        "exactly one key"
    );
    assert!(
        kms_c
            .describe_key()
            .key_id("alias/crash")
            .send()
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn drift_is_reported_then_corrected() {
    let (moto, _g) = fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(&dir, "it", DEMO);
    assert_eq!(run_cli(moto, &["apply", "-f", &file]).0, 0);
    let s3c = moto.s3("us-east-1").await;
    let aes = s3::types::ServerSideEncryptionConfiguration::builder()
        .rules(
            s3::types::ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    s3::types::ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(s3::types::ServerSideEncryption::Aes256)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .build()
        .unwrap();
    s3c.put_bucket_encryption()
        .bucket(format!("it-logs-{ACCOUNT}-us-east-1"))
        .server_side_encryption_configuration(aes)
        .send()
        .await
        .unwrap();
    moto.bedrock("eu-west-1")
        .await
        .delete_model_invocation_logging_configuration()
        .send()
        .await
        .unwrap();

    let (code, out, _) = run_cli(moto, &["check", "-f", &file]);
    assert_eq!(code, 1);
    assert!(out.contains("SSE-S3 (AES256)"), "{out}");
    assert!(
        out.contains("model invocation logging is off in eu-west-1"),
        "{out}"
    );
    let (code, out, _) = run_cli(moto, &["apply", "-f", &file]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("default encryption set to SSE-KMS")
            && out.contains("Bedrock model invocation logging enabled"),
        "{out}"
    );
    assert_eq!(run_cli(moto, &["check", "-f", &file]).0, 0);
}

#[tokio::test]
async fn check_reads_a_directory_and_validates_every_file_first() {
    let (moto, _g) = fresh().await;
    let dir = tempfile::tempdir().unwrap();
    policy_file(
        &dir,
        "a",
        "  regions: [us-east-1]\n  kmsKey: {create: {alias: alias/a}}\n  s3: {bucketName: \"a-{accountId}-{region}\"}\n",
    );
    policy_file(
        &dir,
        "b",
        "  mode: Audit\n  regions: [eu-west-1]\n  kmsKey: {create: {alias: alias/b}}\n  cloudWatch: {logGroupName: /aws/bedrock/b}\n",
    );
    let d = dir.path().display().to_string();
    let (code, out, _) = run_cli(moto, &["check", "-f", &d, "-o", "json"]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["summary"]["policies"], 2);
    assert_eq!(v["policies"][0]["policy"], "a");
    assert_eq!(v["policies"][1]["mode"], "Audit");
    let (code, out, _) = run_cli(moto, &["check", "-f", &d, "-o", "sarif"]);
    assert_eq!(code, 1);
    let sarif: Value = serde_json::from_str(&out).unwrap();
    assert!(!sarif["runs"][0]["results"].as_array().unwrap().is_empty());

    // One bad file in the directory: exit 2 before any AWS call.
    std::fs::write(dir.path().join("c.yaml"), "apiVersion: bedrocklogging.io/v1alpha1\nkind: BedrockLoggingPolicy\nmetadata: {name: c}\nspec:\n  regions: [us-east-1]\n  kmsKey: {create: {alias: alias/c}}\n").unwrap();
    moto.start_recording();
    let (code, _, err) = run_cli(moto, &["check", "-f", &d]);
    assert_eq!(code, 2);
    assert!(err.contains("at least one destination"), "{err}");
    assert!(moto.recorded().is_empty());
}

#[tokio::test]
async fn verify_only_key_policy_exit_codes() {
    let (moto, _g) = fresh().await;
    let kms_c = moto.kms("us-east-1").await;
    let key = kms_c.create_key().send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_string();
    kms_c
        .create_alias()
        .alias_name("alias/verify-only")
        .target_key_id(&key_id)
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(
        &dir,
        "vo",
        "  regions: [us-east-1]\n  kmsKey: {existing: alias/verify-only, managePolicy: false}\n  s3: {bucketName: \"vo-{accountId}-{region}\"}\n",
    );
    // The key policy lacks the Bedrock statement and the operator may not add it. Bedrock
    // refuses the configuration (the strict layer validates as AWS does) at once, without a
    // propagation wait, naming the missing grant; plain moto accepts it (not converged).
    let started = std::time::Instant::now();
    let (code, out, _) = run_cli(moto, &["apply", "-f", &file]);
    assert!(out.contains("managePolicy is false"), "{out}");
    if moto.strict {
        assert_eq!(code, 2, "Bedrock cannot use the key: {out}");
        assert!(out.contains("AllowBedrockLoggingGenerateDataKey"), "{out}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "a definite gap is not waited on as if it were propagating"
        );
    } else {
        assert_eq!(code, 1, "not converged: {out}");
    }
    let (code, out, _) = run_cli(moto, &["apply", "--dry-run", "-f", &file]);
    if moto.strict {
        // Bedrock refused the configuration, so it is still to be put.
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains("Bedrock model invocation logging enabled"),
            "{out}"
        );
    } else {
        assert_eq!(code, 0, "dry run: nothing the operator may change: {out}");
        assert!(
            out.contains("Planned changes (nothing written): none"),
            "{out}"
        );
    }
    assert_eq!(
        run_cli(moto, &["check", "-f", &file]).0,
        1,
        "still non-compliant"
    );
}

/// Defect 10: a key created just before a crash is hidden from the next ListKeys (ListKeys lags
/// behind CreateKey; the strict layer hides a new key from one listing). The operator lists
/// again before creating, so exactly one key exists.
#[tokio::test]
async fn a_lagging_list_keys_does_not_make_a_second_key() {
    let (moto, _g) = fresh().await;
    // Created through the strict layer, as the crashed operator did.
    let kms_c = aws_sdk_kms::Client::new(&moto.operator_config().await);
    kms_c
        .create_key()
        .tags(
            kms::types::Tag::builder()
                .tag_key("bedrocklogging.io/policy")
                .tag_value("lag")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(
        &dir,
        "lag",
        "  regions: [us-east-1]\n  kmsKey: {create: {alias: alias/lag}}\n  s3: {bucketName: \"lag-{accountId}-{region}\"}\n",
    );
    let (code, out, err) = run_cli(moto, &["apply", "-f", &file]);
    assert_eq!(code, 0, "{out}\n{err}");
    let keys = moto
        .kms("us-east-1")
        .await
        .list_keys()
        .send()
        .await
        .unwrap();
    assert_eq!(keys.keys().len(), 1, "exactly one key: {out}");
    if moto.strict {
        assert!(
            !moto.strict_fired("kms_eventual_consistency").is_empty(),
            "the lag was simulated"
        );
    }
}

/// Defect 14: every S3 call carries ExpectedBucketOwner, so a bucket of the same name owned by
/// another account (bucket sniping) is answered 403 and reported as a clear error naming the
/// field; nothing is written to it.
#[tokio::test]
async fn a_bucket_owned_by_another_account_is_a_clear_error_naming_the_field() {
    let (moto, _g) = fresh().await;
    if !moto.strict {
        eprintln!("skipped on the plain emulator: moto does not check ExpectedBucketOwner");
        return;
    }
    // The same bucket name, created first by another account.
    ureq::put(&format!("{}/sniped-123456789012-us-east-1", moto.url))
        .header("x-moto-account-id", "999988887777")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0",
        )
        .send_empty()
        .expect("create the other account's bucket");
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(
        &dir,
        "sniped",
        "  regions: [us-east-1]\n  kmsKey: {create: {alias: alias/sniped}}\n  s3: {bucketName: \"sniped-{accountId}-{region}\"}\n",
    );
    moto.start_recording();
    let (code, out, err) = run_cli(moto, &["apply", "-f", &file]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains("spec.s3.bucketName: bucket sniped-123456789012-us-east-1 exists but this account cannot access it"),
        "{out}"
    );
    let s3_writes: Vec<String> = writes(&moto.recorded())
        .into_iter()
        .filter(|w| w.contains(" s3 "))
        .collect();
    assert!(
        s3_writes.is_empty(),
        "wrote to the other account's bucket: {s3_writes:?}"
    );
}
