//! [`FakeCloud`]: SQS: the tamper-event queue.

use async_trait::async_trait;

use super::*;
use crate::cloud::Sqs;

fn not_found(op: &'static str, what: &str) -> CloudError {
    CloudError {
        kind: ErrorKind::NotFound,
        service: "sqs",
        operation: op,
        code: Some("AWS.SimpleQueueService.NonExistentQueue".into()),
        message: format!("The specified queue does not exist: {what}"),
    }
}

impl FakeCloud {
    fn queue_key(st: &FakeState, region: &str, url: &str) -> Option<(String, String)> {
        st.queues
            .iter()
            .find(|((r, _), q)| r == region && q.info.url == url)
            .map(|(k, _)| k.clone())
    }

    /// Put a message on a queue (tests: an event EventBridge delivered).
    pub fn sqs_send(&self, region: &str, name: &str, body: &str) {
        let mut st = self.st();
        if let Some(q) = st.queues.get_mut(&(region.to_string(), name.to_string())) {
            let id = format!("msg-{}", q.messages.len() + q.in_flight.len() + 1);
            q.messages.push((id, body.to_string()));
        }
    }
}

fn set(q: &mut QueueInfo, attrs: &[(String, String)]) {
    for (k, v) in attrs {
        match k.as_str() {
            "Policy" => q.policy = Some(v.clone()),
            "SqsManagedSseEnabled" => q.sse_sqs = v == "true",
            "KmsMasterKeyId" => q.kms_key = Some(v.clone()).filter(|v| !v.is_empty()),
            _ => {}
        }
    }
}

#[async_trait]
impl Sqs for FakeCloud {
    async fn sqs_get_queue(
        &self,
        region: &str,
        name: &str,
    ) -> Result<Option<QueueInfo>, CloudError> {
        let key = (region.to_string(), name.to_string());
        let remembered = self.queue_urls.get(region, name).is_some();
        if !remembered {
            self.enter(region, "GetQueueUrl", "sqs")?;
        }
        let found = self.st().queues.get(&key).map(|q| q.info.clone());
        // A remembered URL is asked directly; a queue deleted since answers "does not exist".
        if remembered || found.is_some() {
            self.enter(region, "GetQueueAttributes", "sqs")?;
        }
        self.queue_urls
            .set(region, name, found.as_ref().map(|q| q.url.as_str()));
        Ok(found)
    }

    async fn sqs_create_queue(
        &self,
        region: &str,
        name: &str,
        attributes: &[(String, String)],
        tags: &Tags,
    ) -> Result<String, CloudError> {
        self.enter(region, "CreateQueue", "sqs")?;
        let mut st = self.st();
        let account = st.account.clone();
        let key = (region.to_string(), name.to_string());
        let q = st.queues.entry(key).or_insert_with(|| FakeQueue {
            info: QueueInfo {
                url: format!("https://sqs.{region}.amazonaws.com/{account}/{name}"),
                arn: format!("arn:aws:sqs:{region}:{account}:{name}"),
                ..Default::default()
            },
            tags: tags.clone(),
            ..Default::default()
        });
        set(&mut q.info, attributes);
        let url = q.info.url.clone();
        drop(st);
        self.queue_urls.set(region, name, Some(&url));
        Ok(url)
    }

    async fn sqs_set_attributes(
        &self,
        region: &str,
        url: &str,
        attributes: &[(String, String)],
    ) -> Result<(), CloudError> {
        self.enter(region, "SetQueueAttributes", "sqs")?;
        let mut st = self.st();
        let key = Self::queue_key(&st, region, url)
            .ok_or_else(|| not_found("SetQueueAttributes", url))?;
        if let Some(q) = st.queues.get_mut(&key) {
            set(&mut q.info, attributes);
        }
        Ok(())
    }

    async fn sqs_receive(
        &self,
        region: &str,
        url: &str,
        wait_seconds: i32,
        _visibility: i32,
    ) -> Result<Vec<QueueMessage>, CloudError> {
        self.enter(region, "ReceiveMessage", "sqs")?;
        // A long poll on an empty queue waits (briefly: tests), as SQS does, instead of spinning.
        let empty = {
            let st = self.st();
            Self::queue_key(&st, region, url)
                .and_then(|k| st.queues.get(&k))
                .is_some_and(|q| q.messages.is_empty())
        };
        if empty && wait_seconds > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let mut st = self.st();
        let key =
            Self::queue_key(&st, region, url).ok_or_else(|| not_found("ReceiveMessage", url))?;
        let Some(q) = st.queues.get_mut(&key) else {
            return Ok(vec![]);
        };
        let take = q.messages.len().min(10);
        let batch: Vec<(String, String)> = q.messages.drain(..take).collect();
        q.in_flight.extend(batch.iter().map(|(id, _)| id.clone()));
        Ok(batch
            .into_iter()
            .map(|(id, body)| QueueMessage {
                receipt: id.clone(),
                id,
                body,
            })
            .collect())
    }

    async fn sqs_delete(
        &self,
        region: &str,
        url: &str,
        receipts: &[String],
    ) -> Result<(), CloudError> {
        self.enter(region, "DeleteMessageBatch", "sqs")?;
        let mut st = self.st();
        let key = Self::queue_key(&st, region, url)
            .ok_or_else(|| not_found("DeleteMessageBatch", url))?;
        if let Some(q) = st.queues.get_mut(&key) {
            for r in receipts {
                q.in_flight.remove(r);
            }
        }
        Ok(())
    }
}
