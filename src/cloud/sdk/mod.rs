//! The real AWS implementation of [`Cloud`], on the AWS SDK for Rust. The only module that
//! imports `aws_sdk_*`.

/// How an AWS call is made, one line per call: the operation carries this account's credentials
/// (a per-operation override), waits for a slot of the account's concurrency bound, is reported
/// to the metrics observer and has its error classified ([`SdkCloud::run`]).
macro_rules! send {
    ($cloud:ident, $service:literal, $operation:literal, $ov:ident, $request:expr) => {
        $cloud.run(
            $service,
            $operation,
            $request.customize().config_override($cloud.$ov()).send(),
        )
    };
}

mod bedrock;
mod discovery;
mod factory;
pub use factory::SdkCloudFactory;
mod iam;
mod kms;
mod logs;
mod s3;
pub use s3::merge_tags;
mod events;
mod securityhub;
mod sqs;
mod sts;
mod trail;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::region::Region;
use tokio::sync::Semaphore;

use super::error::{CloudError, ErrorKind, classify};
use super::model::*;
use super::{AccountTarget, Cloud, CloudFactory, Tags};

/// Told about every AWS call (for metrics); labels are bounded (service, operation, outcome).
pub trait CallObserver: Send + Sync {
    fn observe(&self, service: &'static str, operation: &'static str, outcome: &'static str);
}

/// Knobs for the SDK clients.
#[derive(Clone)]
pub struct SdkOptions {
    /// Max AWS calls in flight for one account.
    pub max_concurrent_calls: usize,
    /// SDK attempts per call (throttling, 5xx and timeouts are retried with jittered backoff).
    pub max_attempts: u32,
    pub attempt_timeout: Duration,
    pub operation_timeout: Duration,
    pub observer: Option<Arc<dyn CallObserver>>,
}

impl std::fmt::Debug for SdkOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SdkOptions")
            .field("max_concurrent_calls", &self.max_concurrent_calls)
            .field("max_attempts", &self.max_attempts)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl Default for SdkOptions {
    fn default() -> Self {
        SdkOptions {
            max_concurrent_calls: 16,
            max_attempts: 5,
            attempt_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(60),
            observer: None,
        }
    }
}

/// Load the standard AWS configuration (env, profile, IRSA web identity, EKS Pod Identity;
/// `AWS_ENDPOINT_URL` redirects every service).
pub async fn load_base_config(opts: &SdkOptions) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(opts.max_attempts.max(1))
                .with_initial_backoff(Duration::from_millis(200)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(opts.attempt_timeout)
                .operation_timeout(opts.operation_timeout)
                .build(),
        );
    // One HTTP client (connection pool, TLS configuration, trust store) shared by every service
    // client of every account: per-client defaults cost about 2 MiB per governed account.
    loader = loader.http_client(shared_http_client());
    if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none()
    {
        loader = loader.region(Region::new("us-east-1"));
    }
    loader.load().await
}

/// The process-wide HTTPS client for AWS calls.
pub fn shared_http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    static CLIENT: std::sync::OnceLock<aws_smithy_runtime_api::client::http::SharedHttpClient> =
        std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https()
        })
        .clone()
}

/// The clients of one region. Public so tests can swap in mocked clients (aws-smithy-mocks).
pub struct RegionClients {
    pub kms: aws_sdk_kms::Client,
    pub s3: aws_sdk_s3::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub bedrock: aws_sdk_bedrock::Client,
    pub trail: aws_sdk_cloudtrail::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub events: aws_sdk_eventbridge::Client,
}

/// A client of SDK crate `$sdk` for region `$r`, from the base configuration.
macro_rules! regional {
    ($sdk:ident, $base:expr, $r:expr) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from($base)
                .region($r.clone())
                .build(),
        )
    };
}

impl RegionClients {
    pub fn from_config(base: &SdkConfig, region: &str) -> Self {
        let r = Region::new(region.to_string());
        RegionClients {
            kms: regional!(aws_sdk_kms, base, r),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(base)
                    .region(r.clone())
                    .force_path_style(base.endpoint_url().is_some())
                    .build(),
            ),
            logs: regional!(aws_sdk_cloudwatchlogs, base, r),
            bedrock: regional!(aws_sdk_bedrock, base, r),
            trail: regional!(aws_sdk_cloudtrail, base, r),
            sqs: regional!(aws_sdk_sqs, base, r),
            events: regional!(aws_sdk_eventbridge, base, r),
        }
    }
}

/// The SDK clients, shared by every account: one set per region plus IAM and STS. Accounts
/// differ only by the credentials each call carries (a per-operation override), so governing
/// many accounts does not multiply clients.
pub struct ClientPool {
    base: SdkConfig,
    regional: Mutex<HashMap<String, Arc<RegionClients>>>,
    iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
    /// Global discovery (made on first use): EC2 and SSM in the home region, Organizations.
    ec2: std::sync::OnceLock<aws_sdk_ec2::Client>,
    ssm: std::sync::OnceLock<aws_sdk_ssm::Client>,
    organizations: std::sync::OnceLock<aws_sdk_organizations::Client>,
    /// Security Hub clients, made on first use (only exports need them).
    securityhub: Mutex<HashMap<String, aws_sdk_securityhub::Client>>,
}

impl ClientPool {
    pub fn new(base: SdkConfig) -> Self {
        ClientPool {
            iam: aws_sdk_iam::Client::new(&base),
            sts: aws_sdk_sts::Client::new(&base),
            ec2: std::sync::OnceLock::new(),
            ssm: std::sync::OnceLock::new(),
            organizations: std::sync::OnceLock::new(),
            base,
            regional: Mutex::new(HashMap::new()),
            securityhub: Mutex::new(HashMap::new()),
        }
    }

    fn ec2(&self) -> &aws_sdk_ec2::Client {
        self.ec2
            .get_or_init(|| aws_sdk_ec2::Client::new(&self.base))
    }

    fn ssm(&self) -> &aws_sdk_ssm::Client {
        self.ssm
            .get_or_init(|| aws_sdk_ssm::Client::new(&self.base))
    }

    fn organizations(&self) -> &aws_sdk_organizations::Client {
        self.organizations
            .get_or_init(|| aws_sdk_organizations::Client::new(&self.base))
    }

    fn securityhub(&self, region: &str) -> aws_sdk_securityhub::Client {
        let mut map = self.securityhub.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(region.to_string())
            .or_insert_with(|| {
                regional!(
                    aws_sdk_securityhub,
                    &self.base,
                    Region::new(region.to_string())
                )
            })
            .clone()
    }

    fn region(&self, region: &str) -> Arc<RegionClients> {
        let mut map = self.regional.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(region.to_string())
            .or_insert_with(|| Arc::new(RegionClients::from_config(&self.base, region)))
            .clone()
    }
}

/// [`Cloud`] over the AWS SDK, for one set of credentials (one account).
pub struct SdkCloud {
    pool: Arc<ClientPool>,
    /// None: the operator's own credentials (the pool's default chain).
    creds: Option<SharedCredentialsProvider>,
    limiter: Arc<Semaphore>,
    observer: Option<Arc<dyn CallObserver>>,
    /// The account these credentials act in and their ARN (STS, asked once).
    identity: tokio::sync::OnceCell<(String, String)>,
    /// (region, queue name) -> queue URL, as GetQueueUrl or CreateQueue returned it.
    queue_urls: super::QueueUrls,
}

impl SdkCloud {
    pub fn new(base: SdkConfig, opts: &SdkOptions) -> Self {
        Self::in_pool(Arc::new(ClientPool::new(base)), None, opts)
    }

    pub fn in_pool(
        pool: Arc<ClientPool>,
        creds: Option<SharedCredentialsProvider>,
        opts: &SdkOptions,
    ) -> Self {
        SdkCloud {
            pool,
            creds,
            limiter: Arc::new(Semaphore::new(opts.max_concurrent_calls.max(1))),
            observer: opts.observer.clone(),
            identity: tokio::sync::OnceCell::new(),
            queue_urls: super::QueueUrls::default(),
        }
    }

    /// STS GetCallerIdentity: (account, ARN), asked once.
    async fn identity(&self) -> Result<&(String, String), CloudError> {
        self.identity
            .get_or_try_init(|| self.caller_identity())
            .await
    }

    async fn caller_identity(&self) -> Result<(String, String), CloudError> {
        let out = send!(
            self,
            "sts",
            "GetCallerIdentity",
            ov_sts,
            self.pool.sts.get_caller_identity()
        )
        .await?;
        match (out.account(), out.arn()) {
            (Some(account), arn) => Ok((account.to_string(), arn.unwrap_or_default().to_string())),
            (None, _) => Err(CloudError::new(
                ErrorKind::Other,
                "sts",
                "GetCallerIdentity",
                "no account in response",
            )),
        }
    }

    /// Use these clients for `region` (tests: mocked clients).
    pub fn insert_region(&self, region: &str, clients: RegionClients) {
        let mut map = self.pool.regional.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(region.to_string(), Arc::new(clients));
    }

    fn region(&self, region: &str) -> Arc<RegionClients> {
        self.pool.region(region)
    }

    async fn run<T, E, F>(
        &self,
        service: &'static str,
        operation: &'static str,
        fut: F,
    ) -> Result<T, CloudError>
    where
        F: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let result = {
            let _permit = self.limiter.acquire().await;
            fut.await
        };
        self.finish(service, operation, result)
    }

    /// [`Self::run`] without a slot of the concurrency bound (long polls).
    async fn run_unbounded<T, E, F>(
        &self,
        service: &'static str,
        operation: &'static str,
        fut: F,
    ) -> Result<T, CloudError>
    where
        F: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let result = fut.await;
        self.finish(service, operation, result)
    }

    fn finish<T, E>(
        &self,
        service: &'static str,
        operation: &'static str,
        result: Result<T, SdkError<E, HttpResponse>>,
    ) -> Result<T, CloudError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let result = result.map_err(|e| to_cloud_error(service, operation, e));
        if let Some(obs) = &self.observer {
            let outcome = match &result {
                Ok(_) => "ok",
                Err(e) => e.kind.as_label(),
            };
            obs.observe(service, operation, outcome);
        }
        result
    }
}

/// Per-operation configuration carrying this account's credentials (none: the pool's own).
macro_rules! credential_overrides {
    ($($name:ident => $svc:ident),* $(,)?) => {
        impl SdkCloud {
            $(
                fn $name(&self) -> $svc::config::Builder {
                    let b = $svc::config::Builder::default();
                    match &self.creds {
                        Some(c) => b.credentials_provider(c.clone()),
                        None => b,
                    }
                }
            )*
        }
    };
}

credential_overrides!(ov_securityhub => aws_sdk_securityhub, ov_kms => aws_sdk_kms, ov_s3 => aws_sdk_s3, ov_logs => aws_sdk_cloudwatchlogs, ov_bedrock => aws_sdk_bedrock, ov_trail => aws_sdk_cloudtrail, ov_iam => aws_sdk_iam, ov_sts => aws_sdk_sts, ov_sqs => aws_sdk_sqs, ov_events => aws_sdk_eventbridge, ov_ec2 => aws_sdk_ec2, ov_ssm => aws_sdk_ssm, ov_organizations => aws_sdk_organizations);

fn to_cloud_error<E>(
    service: &'static str,
    operation: &'static str,
    err: SdkError<E, HttpResponse>,
) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().map(String::from);
    let message = err
        .message()
        .map(String::from)
        .unwrap_or_else(|| DisplayErrorContext(&err).to_string());
    let kind = match &err {
        SdkError::DispatchFailure(_)
            if super::error::is_no_endpoint_message(&DisplayErrorContext(&err).to_string()) =>
        {
            ErrorKind::NoEndpoint
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ErrorKind::Unavailable
        }
        SdkError::ConstructionFailure(_) => ErrorKind::Invalid,
        _ => classify(code.as_deref(), status, &message),
    };
    CloudError {
        kind,
        service,
        operation,
        code,
        message,
    }
}

fn not_found_to_none<T>(r: Result<T, CloudError>) -> Result<Option<T>, CloudError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn build_err(
    service: &'static str,
    operation: &'static str,
    e: impl std::fmt::Display,
) -> CloudError {
    CloudError::new(
        ErrorKind::Invalid,
        service,
        operation,
        format!("cannot build request: {e}"),
    )
}
