//! [`SdkCloud`]: CloudWatch Logs: the log group.

use async_trait::async_trait;

use super::*;
use crate::cloud::Logs;

#[async_trait]
impl Logs for SdkCloud {
    async fn logs_describe_group(
        &self,
        region: &str,
        name: &str,
    ) -> Result<Option<LogGroupInfo>, CloudError> {
        let c = self.region(region);
        let mut token: Option<String> = None;
        loop {
            let out = send!(
                self,
                "logs",
                "DescribeLogGroups",
                ov_logs,
                c.logs
                    .describe_log_groups()
                    .log_group_name_prefix(name)
                    .set_next_token(token.clone())
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
        match send!(
            self,
            "logs",
            "CreateLogGroup",
            ov_logs,
            c.logs
                .create_log_group()
                .log_group_name(name)
                .kms_key_id(kms_key_arn)
                .set_tags(Some(tags))
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
        send!(
            self,
            "logs",
            "AssociateKmsKey",
            ov_logs,
            c.logs
                .associate_kms_key()
                .log_group_name(name)
                .kms_key_id(kms_key_arn)
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
        send!(
            self,
            "logs",
            "PutRetentionPolicy",
            ov_logs,
            c.logs
                .put_retention_policy()
                .log_group_name(name)
                .retention_in_days(days)
        )
        .await
        .map(|_| ())
    }
}
