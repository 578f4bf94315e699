//! [`SdkCloud`]: STS: who the credentials are.

use async_trait::async_trait;

use super::*;
use crate::cloud::Sts;

#[async_trait]
impl Sts for SdkCloud {
    async fn account_id(&self) -> Result<String, CloudError> {
        self.account
            .get_or_try_init(|| self.caller_account())
            .await
            .cloned()
    }
}
