//! [`FakeCloud`]: S3: the log buckets.

use async_trait::async_trait;

use super::*;
use crate::cloud::S3;

#[async_trait]
impl S3 for FakeCloud {
    async fn s3_probe(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<(BucketPresence, Option<BucketEncryption>), CloudError> {
        self.enter(region, "GetBucketEncryption", "s3")?;
        Ok(match self.st().buckets.get(bucket) {
            None => (BucketPresence::Missing, None),
            Some(b) if b.foreign => (BucketPresence::Foreign, None),
            Some(b) => (BucketPresence::Owned, b.encryption.clone()),
        })
    }

    async fn s3_get_public_access_block(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<Option<PublicAccessBlock>, CloudError> {
        self.enter(region, "GetPublicAccessBlock", "s3")?;
        Ok(self.st().buckets.get(bucket).and_then(|b| b.pab))
    }

    async fn s3_get_ownership(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<Option<String>, CloudError> {
        self.enter(region, "GetBucketOwnershipControls", "s3")?;
        Ok(self
            .st()
            .buckets
            .get(bucket)
            .and_then(|b| b.ownership.clone()))
    }

    async fn s3_get_policy(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<Option<String>, CloudError> {
        self.enter(region, "GetBucketPolicy", "s3")?;
        Ok(self.st().buckets.get(bucket).and_then(|b| b.policy.clone()))
    }

    async fn s3_create_bucket(
        &self,
        region: &str,
        bucket: &str,
        tags: &Tags,
    ) -> Result<(), CloudError> {
        self.enter(region, "CreateBucket", "s3")?;
        self.st()
            .buckets
            .entry(bucket.to_string())
            .or_insert_with(|| FakeBucket {
                region: region.to_string(),
                tags: tags.clone(),
                ..Default::default()
            });
        Ok(())
    }

    async fn s3_put_encryption(
        &self,
        region: &str,
        bucket: &str,
        kms_key_arn: &str,
    ) -> Result<(), CloudError> {
        self.enter(region, "PutBucketEncryption", "s3")?;
        let mut st = self.st();
        let b = st
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| not_found("s3", "PutBucketEncryption", bucket))?;
        b.encryption = Some(BucketEncryption {
            algorithm: "aws:kms".into(),
            kms_key_id: Some(kms_key_arn.to_string()),
            bucket_key_enabled: true,
        });
        Ok(())
    }

    async fn s3_put_public_access_block(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<(), CloudError> {
        self.enter(region, "PutPublicAccessBlock", "s3")?;
        let mut st = self.st();
        let b = st
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| not_found("s3", "PutPublicAccessBlock", bucket))?;
        b.pab = Some(PublicAccessBlock::ALL);
        Ok(())
    }

    async fn s3_put_ownership_enforced(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<(), CloudError> {
        self.enter(region, "PutBucketOwnershipControls", "s3")?;
        let mut st = self.st();
        let b = st
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| not_found("s3", "PutBucketOwnershipControls", bucket))?;
        b.ownership = Some("BucketOwnerEnforced".into());
        Ok(())
    }

    async fn s3_put_policy(
        &self,
        region: &str,
        bucket: &str,
        policy: &str,
    ) -> Result<(), CloudError> {
        self.enter(region, "PutBucketPolicy", "s3")?;
        let mut st = self.st();
        let b = st
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| not_found("s3", "PutBucketPolicy", bucket))?;
        b.policy = Some(policy.to_string());
        Ok(())
    }
}
