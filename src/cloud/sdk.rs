//! The real AWS implementation of [`Cloud`], on the AWS SDK for Rust. The only module that
//! imports `aws_sdk_*`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_bedrock as bedrock;
use aws_sdk_cloudtrail as cloudtrail;
use aws_sdk_cloudwatchlogs as logs;
use aws_sdk_iam as iam;
use aws_sdk_kms as kms;
use aws_sdk_s3 as s3;
use aws_sdk_sts as sts;
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
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
                ))
                .build_https()
        })
        .clone()
}

/// The clients of one region. Public so tests can swap in mocked clients (aws-smithy-mocks).
pub struct RegionClients {
    pub kms: kms::Client,
    pub s3: s3::Client,
    pub logs: logs::Client,
    pub bedrock: bedrock::Client,
    pub trail: cloudtrail::Client,
}

impl RegionClients {
    pub fn from_config(base: &SdkConfig, region: &str) -> Self {
        let r = Region::new(region.to_string());
        let path_style = base.endpoint_url().is_some();
        RegionClients {
            kms: kms::Client::from_conf(kms::config::Builder::from(base).region(r.clone()).build()),
            s3: s3::Client::from_conf(
                s3::config::Builder::from(base)
                    .region(r.clone())
                    .force_path_style(path_style)
                    .build(),
            ),
            logs: logs::Client::from_conf(
                logs::config::Builder::from(base).region(r.clone()).build(),
            ),
            bedrock: bedrock::Client::from_conf(
                bedrock::config::Builder::from(base)
                    .region(r.clone())
                    .build(),
            ),
            trail: cloudtrail::Client::from_conf(
                cloudtrail::config::Builder::from(base).region(r).build(),
            ),
        }
    }
}

/// The SDK clients, shared by every account: one set per region plus IAM and STS. Accounts
/// differ only by the credentials each call carries (a per-operation override), so governing
/// many accounts does not multiply clients.
pub struct ClientPool {
    base: SdkConfig,
    regional: Mutex<HashMap<String, Arc<RegionClients>>>,
    iam: iam::Client,
    sts: sts::Client,
}

impl ClientPool {
    pub fn new(base: SdkConfig) -> Self {
        ClientPool {
            iam: iam::Client::new(&base),
            sts: sts::Client::new(&base),
            base,
            regional: Mutex::new(HashMap::new()),
        }
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
    /// The account these credentials act in (STS, asked once).
    account: tokio::sync::OnceCell<String>,
}

/// Our tags merged into a bucket's existing set (foreign tags kept; ours win on their keys).
/// `None`: nothing to change.
pub fn merge_tags(existing: &Tags, ours: &Tags) -> Option<Tags> {
    let mut merged = existing.clone();
    let mut changed = false;
    for (k, v) in ours {
        match merged.iter_mut().find(|(ek, _)| ek == k) {
            Some((_, ev)) if ev == v => {}
            Some((_, ev)) => {
                *ev = v.clone();
                changed = true;
            }
            None => {
                merged.push((k.clone(), v.clone()));
                changed = true;
            }
        }
    }
    changed.then_some(merged)
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
            account: tokio::sync::OnceCell::new(),
        }
    }

    /// STS GetCallerIdentity (cached by [`Cloud::account_id`]).
    async fn caller_account(&self) -> Result<String, CloudError> {
        let out = self
            .run(
                "sts",
                "GetCallerIdentity",
                self.pool
                    .sts
                    .get_caller_identity()
                    .customize()
                    .config_override(self.ov_sts())
                    .send(),
            )
            .await?;
        out.account().map(String::from).ok_or_else(|| {
            CloudError::new(
                ErrorKind::Other,
                "sts",
                "GetCallerIdentity",
                "no account in response",
            )
        })
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

credential_overrides!(ov_kms => kms, ov_s3 => s3, ov_logs => logs, ov_bedrock => bedrock, ov_trail => cloudtrail, ov_iam => iam, ov_sts => sts);

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

fn key_info(m: &kms::types::KeyMetadata) -> KeyInfo {
    KeyInfo {
        arn: m.arn().unwrap_or_default().to_string(),
        key_id: m.key_id().to_string(),
        enabled: m.enabled(),
        state: m
            .key_state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        spec: m
            .key_spec()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "SYMMETRIC_DEFAULT".into()),
        usage: m
            .key_usage()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "ENCRYPT_DECRYPT".into()),
        manager: m
            .key_manager()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "CUSTOMER".into()),
        created: m.creation_date().map(|d| d.secs()).unwrap_or(0),
    }
}

fn s3_dest(c: &bedrock::types::S3Config) -> S3Destination {
    S3Destination {
        bucket: c.bucket_name().to_string(),
        prefix: c.key_prefix().filter(|p| !p.is_empty()).map(String::from),
    }
}

fn to_sdk_s3_config(d: &S3Destination) -> Result<bedrock::types::S3Config, CloudError> {
    bedrock::types::S3Config::builder()
        .bucket_name(&d.bucket)
        .set_key_prefix(d.prefix.clone())
        .build()
        .map_err(|e| build_err("bedrock", "PutModelInvocationLoggingConfiguration", e))
}

#[async_trait]
impl Cloud for SdkCloud {
    async fn account_id(&self) -> Result<String, CloudError> {
        self.account
            .get_or_try_init(|| self.caller_account())
            .await
            .cloned()
    }

    async fn kms_describe_key(
        &self,
        region: &str,
        key: &str,
    ) -> Result<Option<KeyInfo>, CloudError> {
        let c = self.region(region);
        let out = not_found_to_none(
            self.run(
                "kms",
                "DescribeKey",
                c.kms
                    .describe_key()
                    .key_id(key)
                    .customize()
                    .config_override(self.ov_kms())
                    .send(),
            )
            .await,
        )?;
        Ok(out.and_then(|o| o.key_metadata().map(key_info)))
    }

    async fn kms_find_tagged_keys(
        &self,
        region: &str,
        key: &str,
        value: &str,
    ) -> Result<Vec<KeyInfo>, CloudError> {
        let c = self.region(region);
        let mut marker: Option<String> = None;
        let mut found = Vec::new();
        loop {
            let page = self
                .run(
                    "kms",
                    "ListKeys",
                    c.kms
                        .list_keys()
                        .set_marker(marker.clone())
                        .customize()
                        .config_override(self.ov_kms())
                        .send(),
                )
                .await?;
            for entry in page.keys() {
                let Some(id) = entry.key_id() else { continue };
                let tags = match self
                    .run(
                        "kms",
                        "ListResourceTags",
                        c.kms
                            .list_resource_tags()
                            .key_id(id)
                            .customize()
                            .config_override(self.ov_kms())
                            .send(),
                    )
                    .await
                {
                    Ok(t) => t,
                    Err(e) if e.is_transient() => return Err(e),
                    Err(_) => continue, // AWS-managed or inaccessible keys
                };
                let tagged = tags
                    .tags()
                    .iter()
                    .any(|t| t.tag_key() == key && t.tag_value() == value);
                if !tagged {
                    continue;
                }
                // DescribeKey may not know a key created a moment ago: ask once more.
                let mut info = self.kms_describe_key(region, id).await?;
                if info.is_none() {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    info = self.kms_describe_key(region, id).await?;
                }
                if let Some(info) = info.filter(|i| i.state != "PendingDeletion") {
                    found.push(info);
                }
            }
            marker = page
                .truncated()
                .then(|| page.next_marker().map(String::from))
                .flatten();
            if marker.is_none() {
                found.sort_by_key(|k| (k.created, k.key_id.clone()));
                return Ok(found);
            }
        }
    }

    async fn kms_rotation_enabled(&self, region: &str, key_id: &str) -> Result<bool, CloudError> {
        let c = self.region(region);
        let out = self
            .run(
                "kms",
                "GetKeyRotationStatus",
                c.kms
                    .get_key_rotation_status()
                    .key_id(key_id)
                    .customize()
                    .config_override(self.ov_kms())
                    .send(),
            )
            .await?;
        Ok(out.key_rotation_enabled())
    }

    async fn kms_get_key_policy(&self, region: &str, key_id: &str) -> Result<String, CloudError> {
        let c = self.region(region);
        let out = self
            .run(
                "kms",
                "GetKeyPolicy",
                c.kms
                    .get_key_policy()
                    .key_id(key_id)
                    .policy_name("default")
                    .customize()
                    .config_override(self.ov_kms())
                    .send(),
            )
            .await?;
        Ok(out.policy().unwrap_or_default().to_string())
    }

    async fn kms_create_key(
        &self,
        region: &str,
        description: &str,
        policy: &str,
        tags: &Tags,
    ) -> Result<KeyInfo, CloudError> {
        let c = self.region(region);
        let mut req = c
            .kms
            .create_key()
            .description(description)
            .policy(policy)
            .key_usage(kms::types::KeyUsageType::EncryptDecrypt)
            .key_spec(kms::types::KeySpec::SymmetricDefault);
        for (k, v) in tags {
            req = req.tags(
                kms::types::Tag::builder()
                    .tag_key(k)
                    .tag_value(v)
                    .build()
                    .map_err(|e| build_err("kms", "CreateKey", e))?,
            );
        }
        // CreateKey is not idempotent: a retry after a lost response would make a second key.
        // No SDK retry here; a failed pass finds the (tagged) key by its tag on the next one.
        let req = req.customize().config_override(
            self.ov_kms()
                .retry_config(aws_config::retry::RetryConfig::disabled()),
        );
        let out = self.run("kms", "CreateKey", req.send()).await?;
        out.key_metadata().map(key_info).ok_or_else(|| {
            CloudError::new(
                ErrorKind::Other,
                "kms",
                "CreateKey",
                "no key metadata in response",
            )
        })
    }

    async fn kms_create_alias(
        &self,
        region: &str,
        alias: &str,
        key_id: &str,
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        let res = self
            .run(
                "kms",
                "CreateAlias",
                c.kms
                    .create_alias()
                    .alias_name(alias)
                    .target_key_id(key_id)
                    .customize()
                    .config_override(self.ov_kms())
                    .send(),
            )
            .await;
        match res {
            // A retry after a lost response: fine if the alias already names this key.
            Err(e) if e.code.as_deref() == Some("AlreadyExistsException") => {
                match self.kms_describe_key(region, alias).await? {
                    Some(k) if k.key_id == key_id || k.arn == key_id => Ok(()),
                    _ => Err(e),
                }
            }
            other => other.map(|_| ()),
        }
    }

    async fn kms_enable_rotation(&self, region: &str, key_id: &str) -> Result<(), CloudError> {
        let c = self.region(region);
        self.run(
            "kms",
            "EnableKeyRotation",
            c.kms
                .enable_key_rotation()
                .key_id(key_id)
                .customize()
                .config_override(self.ov_kms())
                .send(),
        )
        .await
        .map(|_| ())
    }

    async fn kms_put_key_policy(
        &self,
        region: &str,
        key_id: &str,
        policy: &str,
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        self.run(
            "kms",
            "PutKeyPolicy",
            c.kms
                .put_key_policy()
                .key_id(key_id)
                .policy_name("default")
                .policy(policy)
                .customize()
                .config_override(self.ov_kms())
                .send(),
        )
        .await
        .map(|_| ())
    }

    async fn s3_probe(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<(BucketPresence, Option<BucketEncryption>), CloudError> {
        let c = self.region(region);
        let owner = self.account_id().await?;
        let out = match self
            .run(
                "s3",
                "GetBucketEncryption",
                c.s3.get_bucket_encryption()
                    .bucket(bucket)
                    .expected_bucket_owner(&owner)
                    .customize()
                    .config_override(self.ov_s3())
                    .send(),
            )
            .await
        {
            Ok(o) => o,
            Err(e) if e.code.as_deref() == Some("NoSuchBucket") => {
                return Ok((BucketPresence::Missing, None));
            }
            Err(e) if e.is_not_found() => return Ok((BucketPresence::Owned, None)),
            Err(e) if e.kind == ErrorKind::AccessDenied => {
                return Ok((BucketPresence::Foreign, None));
            }
            // S3 answers a regional endpoint about a bucket of another region with a redirect.
            Err(e)
                if matches!(
                    e.code.as_deref(),
                    Some(
                        "PermanentRedirect"
                            | "AuthorizationHeaderMalformed"
                            | "IllegalLocationConstraintException"
                    )
                ) =>
            {
                return Ok((BucketPresence::OtherRegion, None));
            }
            Err(e) => return Err(e),
        };
        let enc = out.server_side_encryption_configuration().and_then(|cfg| {
            let rule = cfg.rules().first()?;
            let default = rule.apply_server_side_encryption_by_default()?;
            Some(BucketEncryption {
                algorithm: default.sse_algorithm().as_str().to_string(),
                kms_key_id: default.kms_master_key_id().map(String::from),
                bucket_key_enabled: rule.bucket_key_enabled().unwrap_or(false),
            })
        });
        Ok((BucketPresence::Owned, enc))
    }

    async fn s3_get_public_access_block(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<Option<PublicAccessBlock>, CloudError> {
        let c = self.region(region);
        let owner = self.account_id().await?;
        let out = not_found_to_none(
            self.run(
                "s3",
                "GetPublicAccessBlock",
                c.s3.get_public_access_block()
                    .bucket(bucket)
                    .expected_bucket_owner(&owner)
                    .customize()
                    .config_override(self.ov_s3())
                    .send(),
            )
            .await,
        )?;
        Ok(out.and_then(|o| {
            let p = o.public_access_block_configuration()?;
            Some(PublicAccessBlock {
                block_public_acls: p.block_public_acls().unwrap_or(false),
                ignore_public_acls: p.ignore_public_acls().unwrap_or(false),
                block_public_policy: p.block_public_policy().unwrap_or(false),
                restrict_public_buckets: p.restrict_public_buckets().unwrap_or(false),
            })
        }))
    }

    async fn s3_get_ownership(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<Option<String>, CloudError> {
        let c = self.region(region);
        let owner = self.account_id().await?;
        let out = not_found_to_none(
            self.run(
                "s3",
                "GetBucketOwnershipControls",
                c.s3.get_bucket_ownership_controls()
                    .bucket(bucket)
                    .expected_bucket_owner(&owner)
                    .customize()
                    .config_override(self.ov_s3())
                    .send(),
            )
            .await,
        )?;
        Ok(out.and_then(|o| {
            o.ownership_controls()?
                .rules()
                .first()
                .map(|r| r.object_ownership().as_str().to_string())
        }))
    }

    async fn s3_get_policy(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<Option<String>, CloudError> {
        let c = self.region(region);
        let owner = self.account_id().await?;
        let out = not_found_to_none(
            self.run(
                "s3",
                "GetBucketPolicy",
                c.s3.get_bucket_policy()
                    .bucket(bucket)
                    .expected_bucket_owner(&owner)
                    .customize()
                    .config_override(self.ov_s3())
                    .send(),
            )
            .await,
        )?;
        Ok(out.and_then(|o| o.policy().map(String::from)))
    }

    async fn s3_create_bucket(
        &self,
        region: &str,
        bucket: &str,
        tags: &Tags,
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        let owner = self.account_id().await?;
        let mut req = c.s3.create_bucket().bucket(bucket);
        if region != "us-east-1" {
            req = req.create_bucket_configuration(
                s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(s3::types::BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        match self
            .run(
                "s3",
                "CreateBucket",
                req.customize().config_override(self.ov_s3()).send(),
            )
            .await
        {
            Ok(_) => {}
            // A retry after a lost response, or a crash between create and configure.
            Err(e) if e.code.as_deref() == Some("BucketAlreadyOwnedByYou") => {}
            Err(e) => return Err(e),
        }
        // PutBucketTagging replaces the whole set: merge ours into what is there.
        let current = not_found_to_none(
            self.run(
                "s3",
                "GetBucketTagging",
                c.s3.get_bucket_tagging()
                    .bucket(bucket)
                    .expected_bucket_owner(&owner)
                    .customize()
                    .config_override(self.ov_s3())
                    .send(),
            )
            .await,
        )?;
        let existing: Tags = current
            .map(|o| {
                o.tag_set()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let Some(merged) = merge_tags(&existing, tags) else {
            return Ok(());
        };
        let tag_set = merged
            .iter()
            .map(|(k, v)| s3::types::Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| build_err("s3", "PutBucketTagging", e))?;
        let tagging = s3::types::Tagging::builder()
            .set_tag_set(Some(tag_set))
            .build()
            .map_err(|e| build_err("s3", "PutBucketTagging", e))?;
        self.run(
            "s3",
            "PutBucketTagging",
            c.s3.put_bucket_tagging()
                .bucket(bucket)
                .expected_bucket_owner(&owner)
                .tagging(tagging)
                .customize()
                .config_override(self.ov_s3())
                .send(),
        )
        .await
        .map(|_| ())
    }

    async fn s3_put_encryption(
        &self,
        region: &str,
        bucket: &str,
        kms_key_arn: &str,
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        let owner = self.account_id().await?;
        let default = s3::types::ServerSideEncryptionByDefault::builder()
            .sse_algorithm(s3::types::ServerSideEncryption::AwsKms)
            .kms_master_key_id(kms_key_arn)
            .build()
            .map_err(|e| build_err("s3", "PutBucketEncryption", e))?;
        let config = s3::types::ServerSideEncryptionConfiguration::builder()
            .rules(
                s3::types::ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(default)
                    .bucket_key_enabled(true)
                    .build(),
            )
            .build()
            .map_err(|e| build_err("s3", "PutBucketEncryption", e))?;
        self.run(
            "s3",
            "PutBucketEncryption",
            c.s3.put_bucket_encryption()
                .bucket(bucket)
                .expected_bucket_owner(&owner)
                .server_side_encryption_configuration(config)
                .customize()
                .config_override(self.ov_s3())
                .send(),
        )
        .await
        .map(|_| ())
    }

    async fn s3_put_public_access_block(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        let owner = self.account_id().await?;
        let config = s3::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        self.run(
            "s3",
            "PutPublicAccessBlock",
            c.s3.put_public_access_block()
                .bucket(bucket)
                .expected_bucket_owner(&owner)
                .public_access_block_configuration(config)
                .customize()
                .config_override(self.ov_s3())
                .send(),
        )
        .await
        .map(|_| ())
    }

    async fn s3_put_ownership_enforced(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        let owner = self.account_id().await?;
        let rule = s3::types::OwnershipControlsRule::builder()
            .object_ownership(s3::types::ObjectOwnership::BucketOwnerEnforced)
            .build()
            .map_err(|e| build_err("s3", "PutBucketOwnershipControls", e))?;
        let controls = s3::types::OwnershipControls::builder()
            .rules(rule)
            .build()
            .map_err(|e| build_err("s3", "PutBucketOwnershipControls", e))?;
        self.run(
            "s3",
            "PutBucketOwnershipControls",
            c.s3.put_bucket_ownership_controls()
                .bucket(bucket)
                .expected_bucket_owner(&owner)
                .ownership_controls(controls)
                .customize()
                .config_override(self.ov_s3())
                .send(),
        )
        .await
        .map(|_| ())
    }

    async fn s3_put_policy(
        &self,
        region: &str,
        bucket: &str,
        policy: &str,
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        let owner = self.account_id().await?;
        self.run(
            "s3",
            "PutBucketPolicy",
            c.s3.put_bucket_policy()
                .bucket(bucket)
                .expected_bucket_owner(&owner)
                .policy(policy)
                .customize()
                .config_override(self.ov_s3())
                .send(),
        )
        .await
        .map(|_| ())
    }

    async fn logs_describe_group(
        &self,
        region: &str,
        name: &str,
    ) -> Result<Option<LogGroupInfo>, CloudError> {
        let c = self.region(region);
        let mut token: Option<String> = None;
        loop {
            let out = self
                .run(
                    "logs",
                    "DescribeLogGroups",
                    c.logs
                        .describe_log_groups()
                        .log_group_name_prefix(name)
                        .set_next_token(token.clone())
                        .customize()
                        .config_override(self.ov_logs())
                        .send(),
                )
                .await?;
            if let Some(g) = out
                .log_groups()
                .iter()
                .find(|g| g.log_group_name() == Some(name))
            {
                let arn = g
                    .log_group_arn()
                    .map(String::from)
                    .or_else(|| g.arn().map(|a| a.trim_end_matches(":*").to_string()))
                    .unwrap_or_default();
                return Ok(Some(LogGroupInfo {
                    arn,
                    kms_key_id: g.kms_key_id().filter(|k| !k.is_empty()).map(String::from),
                    retention_in_days: g.retention_in_days(),
                }));
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(None),
            }
        }
    }

    async fn logs_create_group(
        &self,
        region: &str,
        name: &str,
        kms_key_arn: &str,
        tags: &Tags,
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        let tags: HashMap<String, String> = tags.iter().cloned().collect();
        match self
            .run(
                "logs",
                "CreateLogGroup",
                c.logs
                    .create_log_group()
                    .log_group_name(name)
                    .kms_key_id(kms_key_arn)
                    .set_tags(Some(tags))
                    .customize()
                    .config_override(self.ov_logs())
                    .send(),
            )
            .await
        {
            Err(e) if e.code.as_deref() == Some("ResourceAlreadyExistsException") => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn logs_associate_key(
        &self,
        region: &str,
        name: &str,
        kms_key_arn: &str,
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        self.run(
            "logs",
            "AssociateKmsKey",
            c.logs
                .associate_kms_key()
                .log_group_name(name)
                .kms_key_id(kms_key_arn)
                .customize()
                .config_override(self.ov_logs())
                .send(),
        )
        .await
        .map(|_| ())
    }

    async fn logs_put_retention(
        &self,
        region: &str,
        name: &str,
        days: i32,
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        self.run(
            "logs",
            "PutRetentionPolicy",
            c.logs
                .put_retention_policy()
                .log_group_name(name)
                .retention_in_days(days)
                .customize()
                .config_override(self.ov_logs())
                .send(),
        )
        .await
        .map(|_| ())
    }

    async fn iam_get_role(&self, name: &str) -> Result<Option<RoleInfo>, CloudError> {
        let out = not_found_to_none(
            self.run(
                "iam",
                "GetRole",
                self.pool
                    .iam
                    .get_role()
                    .role_name(name)
                    .customize()
                    .config_override(self.ov_iam())
                    .send(),
            )
            .await,
        )?;
        Ok(out.and_then(|o| {
            let r = o.role()?;
            Some(RoleInfo {
                arn: r.arn().to_string(),
                trust_policy: r
                    .assume_role_policy_document()
                    .map(|d| {
                        urlencoding::decode(d)
                            .map(|c| c.into_owned())
                            .unwrap_or_else(|_| d.to_string())
                    })
                    .unwrap_or_default(),
            })
        }))
    }

    async fn iam_get_role_policy(
        &self,
        role: &str,
        policy_name: &str,
    ) -> Result<Option<String>, CloudError> {
        let out = not_found_to_none(
            self.run(
                "iam",
                "GetRolePolicy",
                self.pool
                    .iam
                    .get_role_policy()
                    .role_name(role)
                    .policy_name(policy_name)
                    .customize()
                    .config_override(self.ov_iam())
                    .send(),
            )
            .await,
        )?;
        Ok(out.map(|o| {
            let d = o.policy_document();
            urlencoding::decode(d)
                .map(|c| c.into_owned())
                .unwrap_or_else(|_| d.to_string())
        }))
    }

    async fn iam_create_role(
        &self,
        name: &str,
        trust_policy: &str,
        tags: &Tags,
    ) -> Result<RoleInfo, CloudError> {
        let mut req = self
            .pool
            .iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust_policy)
            .description("Lets Amazon Bedrock deliver model invocation logs to CloudWatch Logs (managed by bedrock-logging-operator)");
        for (k, v) in tags {
            req = req.tags(
                iam::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| build_err("iam", "CreateRole", e))?,
            );
        }
        match self
            .run(
                "iam",
                "CreateRole",
                req.customize().config_override(self.ov_iam()).send(),
            )
            .await
        {
            Ok(out) => Ok(RoleInfo {
                arn: out.role().map(|r| r.arn().to_string()).unwrap_or_default(),
                trust_policy: trust_policy.to_string(),
            }),
            // A retry after a lost response: the role is there; the next pass reconciles it.
            Err(e) if e.code.as_deref() == Some("EntityAlreadyExists") => {
                self.iam_get_role(name).await?.ok_or(e)
            }
            Err(e) => Err(e),
        }
    }

    async fn iam_update_trust(&self, name: &str, trust_policy: &str) -> Result<(), CloudError> {
        self.run(
            "iam",
            "UpdateAssumeRolePolicy",
            self.pool
                .iam
                .update_assume_role_policy()
                .role_name(name)
                .policy_document(trust_policy)
                .customize()
                .config_override(self.ov_iam())
                .send(),
        )
        .await
        .map(|_| ())
    }

    async fn iam_put_role_policy(
        &self,
        role: &str,
        policy_name: &str,
        policy: &str,
    ) -> Result<(), CloudError> {
        self.run(
            "iam",
            "PutRolePolicy",
            self.pool
                .iam
                .put_role_policy()
                .role_name(role)
                .policy_name(policy_name)
                .policy_document(policy)
                .customize()
                .config_override(self.ov_iam())
                .send(),
        )
        .await
        .map(|_| ())
    }

    async fn bedrock_get_logging(&self, region: &str) -> Result<Option<LoggingConfig>, CloudError> {
        let c = self.region(region);
        let out = self
            .run(
                "bedrock",
                "GetModelInvocationLoggingConfiguration",
                c.bedrock
                    .get_model_invocation_logging_configuration()
                    .customize()
                    .config_override(self.ov_bedrock())
                    .send(),
            )
            .await?;
        Ok(out.logging_config().map(|l| LoggingConfig {
            s3: l.s3_config().map(s3_dest),
            cloud_watch: l.cloud_watch_config().map(|cw| CloudWatchDestination {
                log_group: cw.log_group_name().to_string(),
                role_arn: cw.role_arn().to_string(),
                large_data: cw.large_data_delivery_s3_config().map(s3_dest),
            }),
            text: l.text_data_delivery_enabled(),
            image: l.image_data_delivery_enabled(),
            embedding: l.embedding_data_delivery_enabled(),
            video: l.video_data_delivery_enabled(),
            audio: l.audio_data_delivery_enabled(),
        }))
    }

    async fn bedrock_put_logging(
        &self,
        region: &str,
        config: &LoggingConfig,
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        let s3_config = config.s3.as_ref().map(to_sdk_s3_config).transpose()?;
        let cw_config = match &config.cloud_watch {
            Some(cw) => Some(
                bedrock::types::CloudWatchConfig::builder()
                    .log_group_name(&cw.log_group)
                    .role_arn(&cw.role_arn)
                    .set_large_data_delivery_s3_config(
                        cw.large_data.as_ref().map(to_sdk_s3_config).transpose()?,
                    )
                    .build()
                    .map_err(|e| {
                        build_err("bedrock", "PutModelInvocationLoggingConfiguration", e)
                    })?,
            ),
            None => None,
        };
        let logging = bedrock::types::LoggingConfig::builder()
            .set_s3_config(s3_config)
            .set_cloud_watch_config(cw_config)
            .set_text_data_delivery_enabled(config.text)
            .set_image_data_delivery_enabled(config.image)
            .set_embedding_data_delivery_enabled(config.embedding)
            .set_video_data_delivery_enabled(config.video)
            .set_audio_data_delivery_enabled(config.audio)
            .build();
        self.run(
            "bedrock",
            "PutModelInvocationLoggingConfiguration",
            c.bedrock
                .put_model_invocation_logging_configuration()
                .logging_config(logging)
                .customize()
                .config_override(self.ov_bedrock())
                .send(),
        )
        .await
        .map(|_| ())
    }

    async fn bedrock_delete_logging(&self, region: &str) -> Result<(), CloudError> {
        let c = self.region(region);
        self.run(
            "bedrock",
            "DeleteModelInvocationLoggingConfiguration",
            c.bedrock
                .delete_model_invocation_logging_configuration()
                .customize()
                .config_override(self.ov_bedrock())
                .send(),
        )
        .await
        .map(|_| ())
    }

    async fn trail_get(&self, region: &str, name: &str) -> Result<Option<TrailInfo>, CloudError> {
        let c = self.region(region);
        let out = not_found_to_none(
            self.run(
                "cloudtrail",
                "GetTrail",
                c.trail
                    .get_trail()
                    .name(name)
                    .customize()
                    .config_override(self.ov_trail())
                    .send(),
            )
            .await,
        )?;
        Ok(out.and_then(|o| {
            let t = o.trail()?;
            Some(TrailInfo {
                arn: t.trail_arn().unwrap_or_default().to_string(),
                name: t.name().unwrap_or_default().to_string(),
                home_region: t.home_region().unwrap_or(region).to_string(),
                multi_region: t.is_multi_region_trail().unwrap_or(false),
            })
        }))
    }

    async fn trail_list(&self, region: &str) -> Result<Vec<TrailInfo>, CloudError> {
        let c = self.region(region);
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .run(
                    "cloudtrail",
                    "ListTrails",
                    c.trail
                        .list_trails()
                        .set_next_token(token.clone())
                        .customize()
                        .config_override(self.ov_trail())
                        .send(),
                )
                .await?;
            out.extend(page.trails().iter().map(|t| TrailInfo {
                arn: t.trail_arn().unwrap_or_default().to_string(),
                name: t.name().unwrap_or_default().to_string(),
                home_region: t.home_region().unwrap_or(region).to_string(),
                multi_region: false,
            }));
            token = page.next_token().map(String::from);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn trail_is_logging(&self, region: &str, trail: &str) -> Result<bool, CloudError> {
        let c = self.region(region);
        let out = self
            .run(
                "cloudtrail",
                "GetTrailStatus",
                c.trail
                    .get_trail_status()
                    .name(trail)
                    .customize()
                    .config_override(self.ov_trail())
                    .send(),
            )
            .await?;
        Ok(out.is_logging().unwrap_or(false))
    }

    async fn trail_get_selectors(
        &self,
        region: &str,
        name: &str,
    ) -> Result<TrailSelectors, CloudError> {
        let c = self.region(region);
        let out = self
            .run(
                "cloudtrail",
                "GetEventSelectors",
                c.trail
                    .get_event_selectors()
                    .trail_name(name)
                    .customize()
                    .config_override(self.ov_trail())
                    .send(),
            )
            .await?;
        let advanced = out
            .advanced_event_selectors()
            .iter()
            .map(|s| AdvancedSelector {
                name: s.name().map(String::from),
                fields: s
                    .field_selectors()
                    .iter()
                    .map(|f| FieldSelector {
                        field: f.field().to_string(),
                        equals: f.equals().to_vec(),
                        starts_with: f.starts_with().to_vec(),
                        ends_with: f.ends_with().to_vec(),
                        not_equals: f.not_equals().to_vec(),
                        not_starts_with: f.not_starts_with().to_vec(),
                        not_ends_with: f.not_ends_with().to_vec(),
                    })
                    .collect(),
            })
            .collect();
        let basic = out
            .event_selectors()
            .iter()
            .map(|s| BasicSelector {
                read_write_type: s.read_write_type().map(|r| r.as_str().to_string()),
                include_management_events: s.include_management_events(),
                exclude_management_event_sources: s.exclude_management_event_sources().to_vec(),
                data_resources: s
                    .data_resources()
                    .iter()
                    .map(|d| {
                        (
                            d.r#type().unwrap_or_default().to_string(),
                            d.values().to_vec(),
                        )
                    })
                    .collect(),
            })
            .collect();
        Ok(TrailSelectors { advanced, basic })
    }

    async fn trail_put_advanced_selectors(
        &self,
        region: &str,
        name: &str,
        selectors: &[AdvancedSelector],
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        let mut sdk = Vec::new();
        for s in selectors {
            let mut fields = Vec::new();
            for f in &s.fields {
                let opt = |v: &Vec<String>| if v.is_empty() { None } else { Some(v.clone()) };
                fields.push(
                    cloudtrail::types::AdvancedFieldSelector::builder()
                        .field(&f.field)
                        .set_equals(opt(&f.equals))
                        .set_starts_with(opt(&f.starts_with))
                        .set_ends_with(opt(&f.ends_with))
                        .set_not_equals(opt(&f.not_equals))
                        .set_not_starts_with(opt(&f.not_starts_with))
                        .set_not_ends_with(opt(&f.not_ends_with))
                        .build()
                        .map_err(|e| build_err("cloudtrail", "PutEventSelectors", e))?,
                );
            }
            sdk.push(
                cloudtrail::types::AdvancedEventSelector::builder()
                    .set_name(s.name.clone())
                    .set_field_selectors(Some(fields))
                    .build()
                    .map_err(|e| build_err("cloudtrail", "PutEventSelectors", e))?,
            );
        }
        self.run(
            "cloudtrail",
            "PutEventSelectors",
            c.trail
                .put_event_selectors()
                .trail_name(name)
                .set_advanced_event_selectors(Some(sdk))
                .customize()
                .config_override(self.ov_trail())
                .send(),
        )
        .await
        .map(|_| ())
    }
}

/// Credentials of an assumed role, through the pool's one STS client (no client per account),
/// cached and refreshed five minutes before they expire.
#[derive(Debug)]
struct AssumedRoleCredentials {
    sts: sts::Client,
    role_arn: String,
    external_id: Option<String>,
    session_name: String,
    cached: tokio::sync::Mutex<Option<aws_credential_types::Credentials>>,
}

impl AssumedRoleCredentials {
    /// AssumeRole, its failure classified like every other AWS error (a denial is terminal).
    async fn assume_classified(&self) -> Result<aws_credential_types::Credentials, CloudError> {
        let out = self
            .sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name)
            .set_external_id(self.external_id.clone())
            .send()
            .await
            .map_err(|e| to_cloud_error("sts", "AssumeRole", e))?;
        let c = out.credentials().ok_or_else(|| {
            CloudError::new(
                ErrorKind::Unavailable,
                "sts",
                "AssumeRole",
                "AssumeRole returned no credentials",
            )
        })?;
        let expiry = std::time::SystemTime::try_from(*c.expiration()).ok();
        Ok(aws_credential_types::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            expiry,
            "bedrock-logging-operator-assume-role",
        ))
    }

    async fn assume(
        &self,
    ) -> Result<
        aws_credential_types::Credentials,
        aws_credential_types::provider::error::CredentialsError,
    > {
        self.assume_classified().await.map_err(|e| {
            aws_credential_types::provider::error::CredentialsError::provider_error(e.to_string())
        })
    }
}

impl aws_credential_types::provider::ProvideCredentials for AssumedRoleCredentials {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::new(async move {
            let mut cached = self.cached.lock().await;
            let fresh_enough = |c: &aws_credential_types::Credentials| {
                c.expiry()
                    .is_none_or(|e| e > std::time::SystemTime::now() + Duration::from_secs(300))
            };
            if let Some(c) = cached.as_ref().filter(|c| fresh_enough(c)) {
                return Ok(c.clone());
            }
            let c = self.assume().await?;
            *cached = Some(c.clone());
            Ok(c)
        })
    }
}

/// Builds [`SdkCloud`]s over one shared [`ClientPool`]: the operator's own credentials, or a
/// role assumed through STS (credentials cached per role + external ID).
pub struct SdkCloudFactory {
    pool: Arc<ClientPool>,
    opts: SdkOptions,
    cache: tokio::sync::Mutex<HashMap<AccountTarget, Arc<SdkCloud>>>,
}

impl SdkCloudFactory {
    pub fn new(base: SdkConfig, opts: SdkOptions) -> Self {
        SdkCloudFactory {
            pool: Arc::new(ClientPool::new(base)),
            opts,
            cache: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    pub async fn from_env(opts: SdkOptions) -> Self {
        let base = load_base_config(&opts).await;
        Self::new(base, opts)
    }
}

#[async_trait]
impl CloudFactory for SdkCloudFactory {
    async fn cloud_for(
        &self,
        target: &AccountTarget,
        session_name: &str,
    ) -> Result<Arc<dyn Cloud>, CloudError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.get(target) {
            return Ok(c.clone());
        }
        let creds = match &target.role_arn {
            None => None,
            Some(role) => {
                let session: String = session_name
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || "=,.@-".contains(*c))
                    .take(64)
                    .collect();
                let provider = AssumedRoleCredentials {
                    sts: self.pool.sts.clone(),
                    role_arn: role.clone(),
                    external_id: target.external_id.clone(),
                    session_name: session,
                    cached: tokio::sync::Mutex::new(None),
                };
                // Assume now, so a denial (trust, ExternalId) is seen as what it is instead
                // of surfacing later as a dispatch failure of some other call.
                let first = provider.assume_classified().await?;
                *provider.cached.lock().await = Some(first);
                Some(SharedCredentialsProvider::new(provider))
            }
        };
        let cloud = Arc::new(SdkCloud::in_pool(self.pool.clone(), creds, &self.opts));
        cache.insert(target.clone(), cloud.clone());
        Ok(cloud)
    }
}
