//! [`FakeCloud`]: CloudWatch Logs: the log group.

use async_trait::async_trait;

use super::*;
use crate::cloud::Logs;

#[async_trait]
impl Logs for FakeCloud {
    async fn logs_describe_group(
        &self,
        region: &str,
        name: &str,
    ) -> Result<Option<LogGroupInfo>, CloudError> {
        self.enter(region, "DescribeLogGroups", "logs")?;
        Ok(self
            .st()
            .log_groups
            .get(&(region.to_string(), name.to_string()))
            .cloned())
    }

    async fn logs_create_group(
        &self,
        region: &str,
        name: &str,
        kms_key_arn: &str,
        _tags: &Tags,
    ) -> Result<(), CloudError> {
        self.enter(region, "CreateLogGroup", "logs")?;
        let mut st = self.st();
        let arn = format!("arn:aws:logs:{region}:{}:log-group:{name}", st.account);
        st.log_groups.insert(
            (region.to_string(), name.to_string()),
            LogGroupInfo {
                arn,
                kms_key_id: Some(kms_key_arn.to_string()),
                retention_in_days: None,
            },
        );
        Ok(())
    }

    async fn logs_associate_key(
        &self,
        region: &str,
        name: &str,
        kms_key_arn: &str,
    ) -> Result<(), CloudError> {
        self.enter(region, "AssociateKmsKey", "logs")?;
        let mut st = self.st();
        let g = st
            .log_groups
            .get_mut(&(region.to_string(), name.to_string()))
            .ok_or_else(|| not_found("logs", "AssociateKmsKey", name))?;
        g.kms_key_id = Some(kms_key_arn.to_string());
        Ok(())
    }

    async fn logs_put_retention(
        &self,
        region: &str,
        name: &str,
        days: i32,
    ) -> Result<(), CloudError> {
        self.enter(region, "PutRetentionPolicy", "logs")?;
        let mut st = self.st();
        let g = st
            .log_groups
            .get_mut(&(region.to_string(), name.to_string()))
            .ok_or_else(|| not_found("logs", "PutRetentionPolicy", name))?;
        g.retention_in_days = Some(days);
        Ok(())
    }
}
