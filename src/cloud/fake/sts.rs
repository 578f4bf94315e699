//! [`FakeCloud`]: STS: who the credentials are.

use async_trait::async_trait;

use super::*;
use crate::cloud::Sts;

#[async_trait]
impl Sts for FakeCloud {
    async fn account_id(&self) -> Result<String, CloudError> {
        self.enter("global", "GetCallerIdentity", "sts")?;
        Ok(self.st().account.clone())
    }

    async fn caller_arn(&self) -> Result<String, CloudError> {
        self.enter("global", "GetCallerIdentity", "sts")?;
        let account = self.st().account.clone();
        Ok(format!(
            "arn:aws:sts::{account}:assumed-role/blo-operator/blo"
        ))
    }
}
