//! SDK-level tests (aws-smithy-mocks) for what the emulator cannot show: CloudWatch Logs'
//! AssociateKmsKey, throttling retried by the SDK, Bedrock's permission-propagation error
//! retried by the engine, AccessDenied classified as terminal.

use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_bedrock as bedrock;
use aws_sdk_cloudwatchlogs as logs;
use aws_sdk_kms as kms;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use blo::cloud::prelude::*;
use blo::cloud::sdk::{RegionClients, SdkCloud, SdkOptions};
use blo::cloud::{CloudWatchDestination, ErrorKind, LoggingConfig};
use blo::engine::EngineError;
use blo::engine::change::Change;
use blo::engine::execute::{ExecContext, execute};

const REGION: &str = "us-east-1";

fn base() -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        // As in production: the SDK crates bring no default HTTP client (one TLS stack).
        .http_client(blo::cloud::sdk::shared_http_client())
        .build()
}

/// A cloud whose `us-east-1` clients are replaced by the given mocks.
fn cloud_with(f: impl FnOnce(&mut RegionClients)) -> SdkCloud {
    let cfg = base();
    let cloud = SdkCloud::new(cfg.clone(), &SdkOptions::default());
    let mut clients = RegionClients::from_config(&cfg, REGION);
    f(&mut clients);
    cloud.insert_region(REGION, clients);
    cloud
}

fn retrying<B: RetryConf>(b: B) -> B {
    b.retries()
}

trait RetryConf {
    fn retries(self) -> Self;
}

macro_rules! retry_conf {
    ($($m:ident),*) => {$(
        impl RetryConf for $m::config::Builder {
            fn retries(self) -> Self {
                self.retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(1)))
                    .sleep_impl(aws_smithy_async::rt::sleep::SharedAsyncSleep::new(aws_smithy_async::rt::sleep::TokioSleep::new()))
            }
        }
    )*};
}
retry_conf!(bedrock, logs, kms);

#[tokio::test]
async fn associate_kms_key_on_an_existing_log_group() {
    let describe = mock!(logs::Client::describe_log_groups).then_output(|| {
        logs::operation::describe_log_groups::DescribeLogGroupsOutput::builder()
            .log_groups(
                logs::types::LogGroup::builder()
                    .log_group_name("/aws/bedrock/logs")
                    .arn("arn:aws:logs:us-east-1:123456789012:log-group:/aws/bedrock/logs:*")
                    .retention_in_days(30)
                    .build(),
            )
            .build()
    });
    let associate = mock!(logs::Client::associate_kms_key)
        .match_requests(|r| {
            r.log_group_name() == Some("/aws/bedrock/logs")
                && r.kms_key_id() == Some("arn:aws:kms:us-east-1:123456789012:key/k")
        })
        .then_output(|| {
            logs::operation::associate_kms_key::AssociateKmsKeyOutput::builder().build()
        });
    let client = mock_client!(logs, RuleMode::MatchAny, [&describe, &associate]);
    let cloud = cloud_with(|c| c.logs = client);

    let group = cloud
        .logs_describe_group(REGION, "/aws/bedrock/logs")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(group.kms_key_id, None);
    assert_eq!(
        group.arn, "arn:aws:logs:us-east-1:123456789012:log-group:/aws/bedrock/logs",
        "ARN without the :* suffix"
    );
    // Through the executor, as the engine runs it.
    let cx = ExecContext {
        writes: true,
        cloud: &cloud,
        region: REGION,
        tags: vec![],
        policy: "p",
        permission_retry: Duration::ZERO,
        consistency_retry: Duration::from_secs(2),
    };
    let change = Change::AssociateLogGroupKey {
        name: "/aws/bedrock/logs".into(),
        key: blo::engine::KeyRef::Known("arn:aws:kms:us-east-1:123456789012:key/k".into()),
    };
    let done = execute(&cx, &[change], None).await;
    assert!(done.error.is_none(), "{:?}", done.error);
    assert_eq!(associate.num_calls(), 1);
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk() {
    let throttled = mock!(bedrock::Client::get_model_invocation_logging_configuration)
        .sequence()
        .http_response(|| error_response(429, "ThrottlingException", "Rate exceeded"))
        .times(2)
        .output(|| bedrock::operation::get_model_invocation_logging_configuration::GetModelInvocationLoggingConfigurationOutput::builder().build())
        .build();
    let client = mock_client!(bedrock, RuleMode::Sequential, [&throttled], retrying);
    let cloud = cloud_with(|c| c.bedrock = client);
    let got = cloud.bedrock_get_logging(REGION).await;
    assert!(got.is_ok(), "{got:?}");
    assert_eq!(
        throttled.num_calls(),
        3,
        "two throttled attempts, then success"
    );
}

#[tokio::test]
async fn throttling_classified_transient_when_retries_run_out() {
    let throttled = mock!(bedrock::Client::get_model_invocation_logging_configuration)
        .then_http_response(|| error_response(429, "ThrottlingException", "Rate exceeded"));
    let client = mock_client!(bedrock, RuleMode::MatchAny, [&throttled], |b| b
        .retry_config(aws_config::retry::RetryConfig::disabled()));
    let cloud = cloud_with(|c| c.bedrock = client);
    let err = cloud.bedrock_get_logging(REGION).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Throttled, "{err}");
    assert!(EngineError::from(err).is_transient());
}

/// An AWS JSON error response as the service sends it (code in header and body).
fn error_response(status: u16, code: &str, message: &str) -> HttpResponse {
    let mut resp = HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(format!(r#"{{"__type":"{code}","message":"{message}"}}"#)),
    );
    resp.headers_mut()
        .insert("x-amzn-errortype", code.to_string());
    resp.headers_mut()
        .insert("content-type", "application/json");
    resp
}

fn logging() -> LoggingConfig {
    LoggingConfig {
        cloud_watch: Some(CloudWatchDestination {
            log_group: "/aws/bedrock/logs".into(),
            role_arn: "arn:aws:iam::123456789012:role/R".into(),
            large_data: None,
        }),
        text: Some(true),
        ..Default::default()
    }
}

/// Enable logging the way the engine does it (permission-propagation retry for up to 30 s).
async fn put_logging_through_executor(cloud: &SdkCloud) -> blo::engine::execute::Executed {
    let cx = ExecContext {
        writes: true,
        cloud,
        region: REGION,
        tags: vec![],
        policy: "p",
        permission_retry: Duration::from_secs(30),
        consistency_retry: Duration::from_secs(2),
    };
    execute(
        &cx,
        &[Change::PutLoggingConfig {
            config: logging(),
            was_configured: false,
        }],
        None,
    )
    .await
}

#[tokio::test]
async fn bedrock_permission_validation_error_is_retried_until_it_clears() {
    let put = mock!(bedrock::Client::put_model_invocation_logging_configuration)
        .sequence()
        .http_response(|| error_response(400, "ValidationException", "Failed to validate permissions for log group: /aws/bedrock/logs, with role: arn:aws:iam::123456789012:role/R"))
        .times(2)
        .output(|| bedrock::operation::put_model_invocation_logging_configuration::PutModelInvocationLoggingConfigurationOutput::builder().build())
        .build();
    let client = mock_client!(bedrock, RuleMode::Sequential, [&put]);
    let cloud = cloud_with(|c| c.bedrock = client);
    let done = put_logging_through_executor(&cloud).await;
    assert!(done.error.is_none(), "{:?}", done.error);
    assert_eq!(put.num_calls(), 3);
}

#[tokio::test]
async fn bedrock_validation_error_about_the_spec_is_not_retried() {
    let put = mock!(bedrock::Client::put_model_invocation_logging_configuration)
        .then_http_response(|| {
            error_response(
                400,
                "ValidationException",
                "1 validation error detected: keyPrefix",
            )
        });
    let client = mock_client!(bedrock, RuleMode::MatchAny, [&put], |b| b
        .retry_config(aws_config::retry::RetryConfig::disabled()));
    let cloud = cloud_with(|c| c.bedrock = client);
    let done = put_logging_through_executor(&cloud).await;
    let e = done.error.expect("terminal");
    assert!(!e.is_transient());
    assert_eq!(e.stalled_reason(), Some("InvalidSpec"));
    assert_eq!(put.num_calls(), 1);
}

#[tokio::test]
async fn access_denied_is_terminal_and_not_retried() {
    let denied = mock!(kms::Client::describe_key).then_http_response(|| {
        error_response(
            400,
            "AccessDeniedException",
            "User is not authorized to perform: kms:DescribeKey",
        )
    });
    let client = mock_client!(kms, RuleMode::MatchAny, [&denied], retrying);
    let cloud = Arc::new(cloud_with(|c| c.kms = client));
    let err = cloud.kms_describe_key(REGION, "alias/x").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::AccessDenied, "{err}");
    assert_eq!(denied.num_calls(), 1, "AccessDenied is not retried");
    let e = EngineError::from(err);
    assert!(!e.is_transient());
    assert_eq!(e.stalled_reason(), Some("AccessDenied"));
}
