//! [`SdkCloud`]: KMS: the logging key.

use async_trait::async_trait;

use super::*;
use crate::cloud::Kms;

fn key_info(m: &aws_sdk_kms::types::KeyMetadata) -> KeyInfo {
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

#[async_trait]
impl Kms for SdkCloud {
    async fn kms_describe_key(
        &self,
        region: &str,
        key: &str,
    ) -> Result<Option<KeyInfo>, CloudError> {
        let c = self.region(region);
        let out = not_found_to_none(
            send!(
                self,
                "kms",
                "DescribeKey",
                ov_kms,
                c.kms.describe_key().key_id(key)
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
            let page = send!(
                self,
                "kms",
                "ListKeys",
                ov_kms,
                c.kms.list_keys().set_marker(marker.clone())
            )
            .await?;
            for entry in page.keys() {
                let Some(id) = entry.key_id() else { continue };
                let tags = match send!(
                    self,
                    "kms",
                    "ListResourceTags",
                    ov_kms,
                    c.kms.list_resource_tags().key_id(id)
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
        let out = send!(
            self,
            "kms",
            "GetKeyRotationStatus",
            ov_kms,
            c.kms.get_key_rotation_status().key_id(key_id)
        )
        .await?;
        Ok(out.key_rotation_enabled())
    }

    async fn kms_get_key_policy(&self, region: &str, key_id: &str) -> Result<String, CloudError> {
        let c = self.region(region);
        let out = send!(
            self,
            "kms",
            "GetKeyPolicy",
            ov_kms,
            c.kms.get_key_policy().key_id(key_id).policy_name("default")
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
            .key_usage(aws_sdk_kms::types::KeyUsageType::EncryptDecrypt)
            .key_spec(aws_sdk_kms::types::KeySpec::SymmetricDefault);
        for (k, v) in tags {
            req = req.tags(
                aws_sdk_kms::types::Tag::builder()
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
        let res = send!(
            self,
            "kms",
            "CreateAlias",
            ov_kms,
            c.kms.create_alias().alias_name(alias).target_key_id(key_id)
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
        send!(
            self,
            "kms",
            "EnableKeyRotation",
            ov_kms,
            c.kms.enable_key_rotation().key_id(key_id)
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
        send!(
            self,
            "kms",
            "PutKeyPolicy",
            ov_kms,
            c.kms
                .put_key_policy()
                .key_id(key_id)
                .policy_name("default")
                .policy(policy)
        )
        .await
        .map(|_| ())
    }
}
