//! [`FakeCloud`]: Bedrock: the model invocation logging configuration.

use async_trait::async_trait;

use super::*;
use crate::cloud::Bedrock;

#[async_trait]
impl Bedrock for FakeCloud {
    async fn bedrock_get_logging(&self, region: &str) -> Result<Option<LoggingConfig>, CloudError> {
        self.enter(region, "GetModelInvocationLoggingConfiguration", "bedrock")?;
        Ok(self.st().logging.get(region).cloned())
    }

    async fn bedrock_put_logging(
        &self,
        region: &str,
        config: &LoggingConfig,
    ) -> Result<(), CloudError> {
        self.enter(region, "PutModelInvocationLoggingConfiguration", "bedrock")?;
        self.st().logging.insert(region.to_string(), config.clone());
        Ok(())
    }

    async fn bedrock_delete_logging(&self, region: &str) -> Result<(), CloudError> {
        self.enter(
            region,
            "DeleteModelInvocationLoggingConfiguration",
            "bedrock",
        )?;
        self.st().logging.remove(region);
        Ok(())
    }
}
