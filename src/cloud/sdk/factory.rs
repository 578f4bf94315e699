//! [`SdkCloudFactory`]: one client pool for every account; a policy's account reached with the
//! operator's own credentials or a role assumed through STS (assumed at once, so a denial is
//! seen as what it is, and cached until five minutes before expiry).

use async_trait::async_trait;

use super::*;

/// Credentials of an assumed role, through the pool's one STS client (no client per account),
/// cached and refreshed five minutes before they expire.
#[derive(Debug)]
struct AssumedRoleCredentials {
    sts: aws_sdk_sts::Client,
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
