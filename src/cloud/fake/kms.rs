//! [`FakeCloud`]: KMS: the logging key.

use async_trait::async_trait;

use super::*;
use crate::cloud::Kms;

#[async_trait]
impl Kms for FakeCloud {
    async fn kms_describe_key(
        &self,
        region: &str,
        key: &str,
    ) -> Result<Option<KeyInfo>, CloudError> {
        self.enter(region, "DescribeKey", "kms")?;
        let st = self.st();
        Ok(Self::resolve_key(&st, region, key)
            .and_then(|id| st.keys.get(&(region.to_string(), id)))
            .and_then(|k| k.info.clone()))
    }

    async fn kms_find_tagged_keys(
        &self,
        region: &str,
        key: &str,
        value: &str,
    ) -> Result<Vec<KeyInfo>, CloudError> {
        self.enter(region, "ListKeys", "kms")?;
        let st = self.st();
        let mut keys: Vec<KeyInfo> = st
            .keys
            .iter()
            .filter(|((r, _), _)| r == region)
            .filter(|(_, k)| k.tags.iter().any(|(tk, tv)| tk == key && tv == value))
            .filter_map(|(_, k)| k.info.clone())
            .filter(|i| i.state != "PendingDeletion")
            .collect();
        keys.sort_by_key(|k| (k.created, k.key_id.clone()));
        Ok(keys)
    }

    async fn kms_rotation_enabled(&self, region: &str, key_id: &str) -> Result<bool, CloudError> {
        self.enter(region, "GetKeyRotationStatus", "kms")?;
        let st = self.st();
        let id = Self::resolve_key(&st, region, key_id)
            .ok_or_else(|| not_found("kms", "GetKeyRotationStatus", key_id))?;
        Ok(st.keys[&(region.to_string(), id)].rotation)
    }

    async fn kms_get_key_policy(&self, region: &str, key_id: &str) -> Result<String, CloudError> {
        self.enter(region, "GetKeyPolicy", "kms")?;
        let st = self.st();
        let id = Self::resolve_key(&st, region, key_id)
            .ok_or_else(|| not_found("kms", "GetKeyPolicy", key_id))?;
        let key = &st.keys[&(region.to_string(), id)];
        // KMS does not allow GetKeyPolicy across accounts.
        if key
            .info
            .as_ref()
            .and_then(|i| i.arn.split(':').nth(4))
            .is_some_and(|a| a != st.account)
        {
            return Err(CloudError::new(
                ErrorKind::AccessDenied,
                "kms",
                "GetKeyPolicy",
                "GetKeyPolicy is not allowed on a key of another account",
            ));
        }
        Ok(key.policy.clone())
    }

    async fn kms_create_key(
        &self,
        region: &str,
        _description: &str,
        policy: &str,
        tags: &Tags,
    ) -> Result<KeyInfo, CloudError> {
        self.enter(region, "CreateKey", "kms")?;
        Ok(self.insert_key(region, policy, tags))
    }

    async fn kms_create_alias(
        &self,
        region: &str,
        alias: &str,
        key_id: &str,
    ) -> Result<(), CloudError> {
        self.enter(region, "CreateAlias", "kms")?;
        let mut st = self.st();
        let id = Self::resolve_key(&st, region, key_id)
            .ok_or_else(|| not_found("kms", "CreateAlias", key_id))?;
        let k = (region.to_string(), alias.to_string());
        if st.aliases.contains_key(&k) {
            return Err(CloudError::new(
                ErrorKind::Invalid,
                "kms",
                "CreateAlias",
                "AlreadyExistsException",
            ));
        }
        st.aliases.insert(k, id);
        Ok(())
    }

    async fn kms_enable_rotation(&self, region: &str, key_id: &str) -> Result<(), CloudError> {
        self.enter(region, "EnableKeyRotation", "kms")?;
        let mut st = self.st();
        let id = Self::resolve_key(&st, region, key_id)
            .ok_or_else(|| not_found("kms", "EnableKeyRotation", key_id))?;
        if let Some(k) = st.keys.get_mut(&(region.to_string(), id)) {
            k.rotation = true;
        }
        Ok(())
    }

    async fn kms_put_key_policy(
        &self,
        region: &str,
        key_id: &str,
        policy: &str,
    ) -> Result<(), CloudError> {
        self.enter(region, "PutKeyPolicy", "kms")?;
        let mut st = self.st();
        let id = Self::resolve_key(&st, region, key_id)
            .ok_or_else(|| not_found("kms", "PutKeyPolicy", key_id))?;
        if let Some(k) = st.keys.get_mut(&(region.to_string(), id)) {
            k.policy = policy.to_string();
        }
        Ok(())
    }
}
