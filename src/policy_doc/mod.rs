//! IAM-style JSON policy documents (key policies, bucket policies, role policies):
//! parsing, semantic comparison and the Sid-keyed merge that keeps foreign statements.

pub mod bucket_policy;
pub mod key_policy;
pub mod merge;
pub mod role_policy;

use serde_json::{Value, json};

pub use merge::{MergeOutcome, merge_by_sid};

/// FNV-1a (32 bits): a short, stable fingerprint for names derived from free text.
pub fn fnv1a32(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// ARN partition for a region (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// `arn:aws:bedrock:<region>:<account>:*`, the SourceArn Bedrock presents.
pub fn bedrock_source_arn(region: &str, account: &str) -> String {
    format!("arn:{}:bedrock:{region}:{account}:*", partition(region))
}

/// ARN of a CloudWatch log group (without the trailing `:*`).
pub fn log_group_arn(region: &str, account: &str, name: &str) -> String {
    format!(
        "arn:{}:logs:{region}:{account}:log-group:{name}",
        partition(region)
    )
}

/// ARN of an S3 bucket.
pub fn bucket_arn(region: &str, bucket: &str) -> String {
    format!("arn:{}:s3:::{bucket}", partition(region))
}

/// Statements of a policy document, accepting both the list and the single-object form.
pub fn statements(doc: &Value) -> Vec<Value> {
    match doc.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(obj @ Value::Object(_)) => vec![obj.clone()],
        _ => Vec::new(),
    }
}

/// The `Sid` of a statement, if any.
pub fn sid(statement: &Value) -> Option<&str> {
    statement.get("Sid").and_then(Value::as_str)
}

/// Parse a policy document as AWS returns it (IAM returns it URL-encoded).
pub fn parse_document(text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    let decoded;
    let text = if trimmed.starts_with('%') || (trimmed.contains("%22") && !trimmed.contains('"')) {
        decoded = urlencoding::decode(trimmed)
            .map_err(|e| format!("policy is not valid URL encoding: {e}"))?
            .into_owned();
        decoded.as_str()
    } else {
        trimmed
    };
    serde_json::from_str(text).map_err(|e| format!("policy is not valid JSON: {e}"))
}

/// A canonical form for semantic comparison: one-element lists equal their element, lists are
/// order-insensitive, object keys are ordered (serde_json maps are sorted).
pub fn canonical(v: &Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(canonical).collect();
            items.sort_by_key(|a| a.to_string());
            items.dedup();
            if items.len() == 1 {
                items.remove(0)
            } else {
                Value::Array(items)
            }
        }
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), canonical(v))).collect())
        }
        other => other.clone(),
    }
}

/// True when two statements grant the same thing.
pub fn same_statement(a: &Value, b: &Value) -> bool {
    canonical(a) == canonical(b)
}

/// A new, empty policy document.
pub fn empty_document() -> Value {
    json!({"Version": "2012-10-17", "Statement": []})
}

/// Serialize a document compactly for an AWS write.
pub fn to_text(doc: &Value) -> String {
    doc.to_string()
}

/// `ArnLike aws:SourceArn` + `StringEquals aws:SourceAccount`: confused-deputy protection.
pub fn source_conditions(account: &str, source_arns: Vec<String>) -> Value {
    let arns = if source_arns.len() == 1 {
        json!(source_arns[0])
    } else {
        json!(source_arns)
    };
    json!({
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {"aws:SourceArn": arns}
    })
}
