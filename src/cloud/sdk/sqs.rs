//! [`SdkCloud`]: SQS: the tamper-event queue.

use async_trait::async_trait;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, QueueAttributeName};

use super::*;
use crate::cloud::Sqs;

fn attributes(pairs: &[(String, String)]) -> HashMap<QueueAttributeName, String> {
    pairs
        .iter()
        .map(|(k, v)| (QueueAttributeName::from(k.as_str()), v.clone()))
        .collect()
}

#[async_trait]
impl Sqs for SdkCloud {
    async fn sqs_get_queue(
        &self,
        region: &str,
        name: &str,
    ) -> Result<Option<QueueInfo>, CloudError> {
        let c = self.region(region);
        let url = match self.queue_urls.get(region, name) {
            Some(url) => url,
            None => {
                let Some(url) = not_found_to_none(
                    send!(
                        self,
                        "sqs",
                        "GetQueueUrl",
                        ov_sqs,
                        c.sqs.get_queue_url().queue_name(name)
                    )
                    .await,
                )?
                .and_then(|o| o.queue_url().map(String::from)) else {
                    return Ok(None);
                };
                url
            }
        };
        let Some(out) = not_found_to_none(
            send!(
                self,
                "sqs",
                "GetQueueAttributes",
                ov_sqs,
                c.sqs
                    .get_queue_attributes()
                    .queue_url(&url)
                    .attribute_names(QueueAttributeName::QueueArn)
                    .attribute_names(QueueAttributeName::Policy)
                    .attribute_names(QueueAttributeName::SqsManagedSseEnabled)
                    .attribute_names(QueueAttributeName::KmsMasterKeyId)
            )
            .await,
        )?
        else {
            self.queue_urls.set(region, name, None);
            return Ok(None);
        };
        self.queue_urls.set(region, name, Some(&url));
        let attr = |k: QueueAttributeName| {
            out.attributes()
                .and_then(|a| a.get(&k))
                .filter(|v| !v.is_empty())
                .cloned()
        };
        Ok(Some(QueueInfo {
            arn: attr(QueueAttributeName::QueueArn).unwrap_or_default(),
            policy: attr(QueueAttributeName::Policy),
            sse_sqs: attr(QueueAttributeName::SqsManagedSseEnabled).as_deref() == Some("true"),
            kms_key: attr(QueueAttributeName::KmsMasterKeyId),
            url,
        }))
    }

    async fn sqs_create_queue(
        &self,
        region: &str,
        name: &str,
        attrs: &[(String, String)],
        tags: &Tags,
    ) -> Result<String, CloudError> {
        let c = self.region(region);
        let out = send!(
            self,
            "sqs",
            "CreateQueue",
            ov_sqs,
            c.sqs
                .create_queue()
                .queue_name(name)
                .set_attributes(Some(attributes(attrs)))
                .set_tags(Some(tags.iter().cloned().collect()))
        )
        .await?;
        let url = out.queue_url().unwrap_or_default().to_string();
        if !url.is_empty() {
            self.queue_urls.set(region, name, Some(&url));
        }
        Ok(url)
    }

    async fn sqs_set_attributes(
        &self,
        region: &str,
        url: &str,
        attrs: &[(String, String)],
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        send!(
            self,
            "sqs",
            "SetQueueAttributes",
            ov_sqs,
            c.sqs
                .set_queue_attributes()
                .queue_url(url)
                .set_attributes(Some(attributes(attrs)))
        )
        .await?;
        Ok(())
    }

    async fn sqs_receive(
        &self,
        region: &str,
        url: &str,
        wait_seconds: i32,
        visibility: i32,
    ) -> Result<Vec<QueueMessage>, CloudError> {
        let c = self.region(region);
        // A long poll outlasts the usual attempt timeout, and holds no slot of the account's
        // concurrency bound (the listener bounds its own polls).
        let timeouts = TimeoutConfig::builder()
            .operation_attempt_timeout(Duration::from_secs(wait_seconds.max(0) as u64 + 10))
            .operation_timeout(Duration::from_secs(wait_seconds.max(0) as u64 + 30))
            .build();
        let out = self
            .run_unbounded(
                "sqs",
                "ReceiveMessage",
                c.sqs
                    .receive_message()
                    .queue_url(url)
                    .max_number_of_messages(10)
                    .wait_time_seconds(wait_seconds)
                    .visibility_timeout(visibility)
                    .customize()
                    .config_override(self.ov_sqs().timeout_config(timeouts))
                    .send(),
            )
            .await?;
        Ok(out
            .messages()
            .iter()
            .map(|m| QueueMessage {
                id: m.message_id().unwrap_or_default().to_string(),
                receipt: m.receipt_handle().unwrap_or_default().to_string(),
                body: m.body().unwrap_or_default().to_string(),
            })
            .collect())
    }

    async fn sqs_delete(
        &self,
        region: &str,
        url: &str,
        receipts: &[String],
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        for chunk in receipts.chunks(10) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (i, r) in chunk.iter().enumerate() {
                entries.push(
                    DeleteMessageBatchRequestEntry::builder()
                        .id(format!("m{i}"))
                        .receipt_handle(r)
                        .build()
                        .map_err(|e| build_err("sqs", "DeleteMessageBatch", e))?,
                );
            }
            let out = send!(
                self,
                "sqs",
                "DeleteMessageBatch",
                ov_sqs,
                c.sqs
                    .delete_message_batch()
                    .queue_url(url)
                    .set_entries(Some(entries))
            )
            .await?;
            if let Some(f) = out.failed().first() {
                return Err(CloudError::new(
                    ErrorKind::Other,
                    "sqs",
                    "DeleteMessageBatch",
                    format!(
                        "{} message(s) not deleted: {} {}",
                        out.failed().len(),
                        f.code(),
                        f.message().unwrap_or_default()
                    ),
                ));
            }
        }
        Ok(())
    }
}
