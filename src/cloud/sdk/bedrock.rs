//! [`SdkCloud`]: Bedrock: the model invocation logging configuration.

use async_trait::async_trait;

use super::*;
use crate::cloud::Bedrock;

fn s3_dest(c: &aws_sdk_bedrock::types::S3Config) -> S3Destination {
    S3Destination {
        bucket: c.bucket_name().to_string(),
        prefix: c.key_prefix().filter(|p| !p.is_empty()).map(String::from),
    }
}

fn to_sdk_s3_config(d: &S3Destination) -> Result<aws_sdk_bedrock::types::S3Config, CloudError> {
    aws_sdk_bedrock::types::S3Config::builder()
        .bucket_name(&d.bucket)
        .set_key_prefix(d.prefix.clone())
        .build()
        .map_err(|e| build_err("bedrock", "PutModelInvocationLoggingConfiguration", e))
}

#[async_trait]
impl Bedrock for SdkCloud {
    async fn bedrock_get_logging(&self, region: &str) -> Result<Option<LoggingConfig>, CloudError> {
        let c = self.region(region);
        let out = send!(
            self,
            "bedrock",
            "GetModelInvocationLoggingConfiguration",
            ov_bedrock,
            c.bedrock.get_model_invocation_logging_configuration()
        )
        .await?;
        Ok(out.logging_config().map(|l| LoggingConfig {
            s3: l.s3_config().map(s3_dest),
            cloud_watch: l.cloud_watch_config().map(|cw| CloudWatchDestination {
                log_group: cw.log_group_name().to_string(),
                role_arn: cw.role_arn().to_string(),
                large_data: cw.large_data_delivery_s3_config().map(s3_dest),
            }),
            text: l.text_data_delivery_enabled(),
            image: l.image_data_delivery_enabled(),
            embedding: l.embedding_data_delivery_enabled(),
            video: l.video_data_delivery_enabled(),
            audio: l.audio_data_delivery_enabled(),
        }))
    }

    async fn bedrock_put_logging(
        &self,
        region: &str,
        config: &LoggingConfig,
    ) -> Result<(), CloudError> {
        let c = self.region(region);
        let s3_config = config.s3.as_ref().map(to_sdk_s3_config).transpose()?;
        let cw_config = match &config.cloud_watch {
            Some(cw) => Some(
                aws_sdk_bedrock::types::CloudWatchConfig::builder()
                    .log_group_name(&cw.log_group)
                    .role_arn(&cw.role_arn)
                    .set_large_data_delivery_s3_config(
                        cw.large_data.as_ref().map(to_sdk_s3_config).transpose()?,
                    )
                    .build()
                    .map_err(|e| {
                        build_err("bedrock", "PutModelInvocationLoggingConfiguration", e)
                    })?,
            ),
            None => None,
        };
        let logging = aws_sdk_bedrock::types::LoggingConfig::builder()
            .set_s3_config(s3_config)
            .set_cloud_watch_config(cw_config)
            .set_text_data_delivery_enabled(config.text)
            .set_image_data_delivery_enabled(config.image)
            .set_embedding_data_delivery_enabled(config.embedding)
            .set_video_data_delivery_enabled(config.video)
            .set_audio_data_delivery_enabled(config.audio)
            .build();
        send!(
            self,
            "bedrock",
            "PutModelInvocationLoggingConfiguration",
            ov_bedrock,
            c.bedrock
                .put_model_invocation_logging_configuration()
                .logging_config(logging)
        )
        .await
        .map(|_| ())
    }

    async fn bedrock_delete_logging(&self, region: &str) -> Result<(), CloudError> {
        let c = self.region(region);
        send!(
            self,
            "bedrock",
            "DeleteModelInvocationLoggingConfiguration",
            ov_bedrock,
            c.bedrock.delete_model_invocation_logging_configuration()
        )
        .await
        .map(|_| ())
    }
}
