//! The S3 bucket policy statements that let Bedrock write invocation logs.

use serde_json::{Value, json};

use super::{bedrock_source_arn, bucket_arn, source_conditions};

pub const SID_LOGS_WRITE: &str = "AmazonBedrockLogsWrite";
pub const SID_LARGE_DATA_WRITE: &str = "AmazonBedrockLargeDataWrite";

fn prefixed(prefix: Option<&str>) -> String {
    match prefix
        .map(|p| p.trim_matches('/'))
        .filter(|p| !p.is_empty())
    {
        Some(p) => format!("{p}/"),
        None => String::new(),
    }
}

/// `s3:PutObject` on `<bucket>/<prefix>/AWSLogs/<account>/BedrockModelInvocationLogs/*`.
pub fn logs_write_statement(
    region: &str,
    account: &str,
    bucket: &str,
    prefix: Option<&str>,
) -> Value {
    json!({
        "Sid": SID_LOGS_WRITE,
        "Effect": "Allow",
        "Principal": {"Service": "bedrock.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": format!("{}/{}AWSLogs/{account}/BedrockModelInvocationLogs/*", bucket_arn(region, bucket), prefixed(prefix)),
        "Condition": source_conditions(account, vec![bedrock_source_arn(region, account)])
    })
}

/// `s3:PutObject` on `<bucket>/<largePrefix>/*` (or `<bucket>/*`).
pub fn large_data_write_statement(
    region: &str,
    account: &str,
    bucket: &str,
    prefix: Option<&str>,
) -> Value {
    json!({
        "Sid": SID_LARGE_DATA_WRITE,
        "Effect": "Allow",
        "Principal": {"Service": "bedrock.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": format!("{}/{}*", bucket_arn(region, bucket), prefixed(prefix)),
        "Condition": source_conditions(account, vec![bedrock_source_arn(region, account)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_paths() {
        let s = logs_write_statement("us-east-1", "123456789012", "b", Some("bedrock/"));
        assert_eq!(
            s["Resource"],
            "arn:aws:s3:::b/bedrock/AWSLogs/123456789012/BedrockModelInvocationLogs/*"
        );
        let s = logs_write_statement("us-east-1", "123456789012", "b", None);
        assert_eq!(
            s["Resource"],
            "arn:aws:s3:::b/AWSLogs/123456789012/BedrockModelInvocationLogs/*"
        );
        let s = large_data_write_statement("eu-west-1", "123456789012", "b", None);
        assert_eq!(s["Resource"], "arn:aws:s3:::b/*");
        assert_eq!(
            s["Condition"]["ArnLike"]["aws:SourceArn"],
            "arn:aws:bedrock:eu-west-1:123456789012:*"
        );
        assert_eq!(
            s["Condition"]["StringEquals"]["aws:SourceAccount"],
            "123456789012"
        );
    }
}
