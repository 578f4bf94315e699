//! bedrock-logging-operator: keeps Amazon Bedrock model invocation logging on, encrypted with a
//! customer-managed KMS key, private and writable by Bedrock, in every governed account+region.
//!
//! Layout (one engine, two front ends):
//! - [`api`]: the `BedrockLoggingPolicy` types, the CRD and its validation rules;
//! - [`cloud`]: the AWS boundary (a trait, the SDK implementation, an in-memory fake);
//! - [`policy_doc`]: key / bucket / role policy documents and the Sid merge;
//! - [`engine`]: observe → validate → plan → execute → report, per region;
//! - [`cli`]: `check`, `apply`, `iam-policy`, `crd`; [`controller`]: `run`.

pub mod api;
pub mod cli;
pub mod cloud;
pub mod controller;
pub mod engine;
pub mod formats;
pub mod policy_doc;

/// Both the AWS SDK (aws-lc-rs) and kube (ring) enable a rustls crypto backend, so rustls cannot
/// pick one by itself: choose ring, once, before any TLS client is built.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// `s` cut to at most `max` bytes (on a character boundary), with "..." when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}
