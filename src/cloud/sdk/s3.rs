//! [`SdkCloud`]: S3: the log buckets.

use async_trait::async_trait;

use super::*;
use crate::cloud::{S3, Sts};

/// Our tags merged into a bucket's existing set (foreign tags kept; ours win on their keys).
/// `None`: nothing to change.
pub fn merge_tags(existing: &Tags, ours: &Tags) -> Option<Tags> {
    let mut merged = existing.clone();
    let mut changed = false;
    for (k, v) in ours {
        match merged.iter_mut().find(|(ek, _)| ek == k) {
            Some((_, ev)) if ev == v => {}
            Some((_, ev)) => {
                *ev = v.clone();
                changed = true;
            }
            None => {
                merged.push((k.clone(), v.clone()));
                changed = true;
            }
        }
    }
    changed.then_some(merged)
}

#[async_trait]
impl S3 for SdkCloud {
    async fn s3_probe(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<(BucketPresence, Option<BucketEncryption>), CloudError> {
        let c = self.region(region);
        let owner = self.account_id().await?;
        let out = match send!(
            self,
            "s3",
            "GetBucketEncryption",
            ov_s3,
            c.s3.get_bucket_encryption()
                .bucket(bucket)
                .expected_bucket_owner(&owner)
        )
        .await
        {
            Ok(o) => o,
            Err(e) if e.code.as_deref() == Some("NoSuchBucket") => {
                return Ok((BucketPresence::Missing, None));
            }
            Err(e) if e.is_not_found() => return Ok((BucketPresence::Owned, None)),
            Err(e) if e.kind == ErrorKind::AccessDenied => {
                return Ok((BucketPresence::Foreign, None));
            }
            // S3 answers a regional endpoint about a bucket of another region with a redirect.
            Err(e)
                if matches!(
                    e.code.as_deref(),
                    Some(
                        "PermanentRedirect"
                            | "AuthorizationHeaderMalformed"
                            | "IllegalLocationConstraintException"
                    )
                ) =>
            {
                return Ok((BucketPresence::OtherRegion, None));
            }
            Err(e) => return Err(e),
        };
        let enc = out.server_side_encryption_configuration().and_then(|cfg| {
            let rule = cfg.rules().first()?;
            let default = rule.apply_server_side_encryption_by_default()?;
            Some(BucketEncryption {
                algorithm: default.sse_algorithm().as_str().to_string(),
                kms_key_id: default.kms_master_key_id().map(String::from),
                bucket_key_enabled: rule.bucket_key_enabled().unwrap_or(false),
            })
        });
        Ok((BucketPresence::Owned, enc))
    }

    async fn s3_get_public_access_block(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<Option<PublicAccessBlock>, CloudError> {
        let c = self.region(region);
        let owner = self.account_id().await?;
        let out = not_found_to_none(
            send!(
                self,
                "s3",
                "GetPublicAccessBlock",
                ov_s3,
                c.s3.get_public_access_block()
                    .bucket(bucket)
                    .expected_bucket_owner(&owner)
            )
            .await,
        )?;
        Ok(out.and_then(|o| {
            let p = o.public_access_block_configuration()?;
            Some(PublicAccessBlock {
                block_public_acls: p.block_public_acls().unwrap_or(false),
                ignore_public_acls: p.ignore_public_acls().unwrap_or(false),
                block_public_policy: p.block_public_policy().unwrap_or(false),
                restrict_public_buckets: p.restrict_public_buckets().unwrap_or(false),
            })
        }))
    }

    async fn s3_get_ownership(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<Option<String>, CloudError> {
        let c = self.region(region);
        let owner = self.account_id().await?;
        let out = not_found_to_none(
            send!(
                self,
                "s3",
                "GetBucketOwnershipControls",
                ov_s3,
                c.s3.get_bucket_ownership_controls()
                    .bucket(bucket)
                    .expected_bucket_owner(&owner)
            )
            .await,
        )?;
        Ok(out.and_then(|o| {
            o.ownership_controls()?
                .rules()
                .first()
                .map(|r| r.object_ownership().as_str().to_string())
        }))
    }

    async fn s3_get_policy(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<Option<String>, CloudError> {
        let c = self.region(region);
        let owner = self.account_id().await?;
        let out = not_found_to_none(
            send!(
                self,
                "s3",
                "GetBucketPolicy",
                ov_s3,
                c.s3.get_bucket_policy()
                    .bucket(bucket)
                    .expected_bucket_owner(&owner)
            )
            .await,
        )?;
        Ok(out.and_then(|o| o.policy().map(String::from)))
    }

    async fn s3_create_bucket(
        &self,
        region: &str,
        bucket: &str,
        tags: &Tags,
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        let owner = self.account_id().await?;
        let mut req = c.s3.create_bucket().bucket(bucket);
        if region != "us-east-1" {
            req = req.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        match send!(self, "s3", "CreateBucket", ov_s3, req).await {
            Ok(_) => {}
            // A retry after a lost response, or a crash between create and configure.
            Err(e) if e.code.as_deref() == Some("BucketAlreadyOwnedByYou") => {}
            Err(e) => return Err(e),
        }
        // PutBucketTagging replaces the whole set: merge ours into what is there.
        let current = not_found_to_none(
            send!(
                self,
                "s3",
                "GetBucketTagging",
                ov_s3,
                c.s3.get_bucket_tagging()
                    .bucket(bucket)
                    .expected_bucket_owner(&owner)
            )
            .await,
        )?;
        let existing: Tags = current
            .map(|o| {
                o.tag_set()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let Some(merged) = merge_tags(&existing, tags) else {
            return Ok(());
        };
        let tag_set = merged
            .iter()
            .map(|(k, v)| aws_sdk_s3::types::Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| build_err("s3", "PutBucketTagging", e))?;
        let tagging = aws_sdk_s3::types::Tagging::builder()
            .set_tag_set(Some(tag_set))
            .build()
            .map_err(|e| build_err("s3", "PutBucketTagging", e))?;
        send!(
            self,
            "s3",
            "PutBucketTagging",
            ov_s3,
            c.s3.put_bucket_tagging()
                .bucket(bucket)
                .expected_bucket_owner(&owner)
                .tagging(tagging)
        )
        .await
        .map(|_| ())
    }

    async fn s3_put_encryption(
        &self,
        region: &str,
        bucket: &str,
        kms_key_arn: &str,
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        let owner = self.account_id().await?;
        let default = aws_sdk_s3::types::ServerSideEncryptionByDefault::builder()
            .sse_algorithm(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
            .kms_master_key_id(kms_key_arn)
            .build()
            .map_err(|e| build_err("s3", "PutBucketEncryption", e))?;
        let config = aws_sdk_s3::types::ServerSideEncryptionConfiguration::builder()
            .rules(
                aws_sdk_s3::types::ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(default)
                    .bucket_key_enabled(true)
                    .build(),
            )
            .build()
            .map_err(|e| build_err("s3", "PutBucketEncryption", e))?;
        send!(
            self,
            "s3",
            "PutBucketEncryption",
            ov_s3,
            c.s3.put_bucket_encryption()
                .bucket(bucket)
                .expected_bucket_owner(&owner)
                .server_side_encryption_configuration(config)
        )
        .await
        .map(|_| ())
    }

    async fn s3_put_public_access_block(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        let owner = self.account_id().await?;
        let config = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        send!(
            self,
            "s3",
            "PutPublicAccessBlock",
            ov_s3,
            c.s3.put_public_access_block()
                .bucket(bucket)
                .expected_bucket_owner(&owner)
                .public_access_block_configuration(config)
        )
        .await
        .map(|_| ())
    }

    async fn s3_put_ownership_enforced(
        &self,
        region: &str,
        bucket: &str,
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        let owner = self.account_id().await?;
        let rule = aws_sdk_s3::types::OwnershipControlsRule::builder()
            .object_ownership(aws_sdk_s3::types::ObjectOwnership::BucketOwnerEnforced)
            .build()
            .map_err(|e| build_err("s3", "PutBucketOwnershipControls", e))?;
        let controls = aws_sdk_s3::types::OwnershipControls::builder()
            .rules(rule)
            .build()
            .map_err(|e| build_err("s3", "PutBucketOwnershipControls", e))?;
        send!(
            self,
            "s3",
            "PutBucketOwnershipControls",
            ov_s3,
            c.s3.put_bucket_ownership_controls()
                .bucket(bucket)
                .expected_bucket_owner(&owner)
                .ownership_controls(controls)
        )
        .await
        .map(|_| ())
    }

    async fn s3_put_policy(
        &self,
        region: &str,
        bucket: &str,
        policy: &str,
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        let owner = self.account_id().await?;
        send!(
            self,
            "s3",
            "PutBucketPolicy",
            ov_s3,
            c.s3.put_bucket_policy()
                .bucket(bucket)
                .expected_bucket_owner(&owner)
                .policy(policy)
        )
        .await
        .map(|_| ())
    }
}
