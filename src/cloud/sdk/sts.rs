//! [`SdkCloud`]: STS: who the credentials are.

use async_trait::async_trait;

use super::*;
use crate::cloud::Sts;

#[async_trait]
impl Sts for SdkCloud {
    async fn account_id(&self) -> Result<String, CloudError> {
        Ok(self.identity().await?.0.clone())
    }

    async fn caller_arn(&self) -> Result<String, CloudError> {
        Ok(self.identity().await?.1.clone())
    }
}
