//! Engine errors: each knows whether it is transient (retry) or terminal (needs a change), and
//! which Stalled reason it maps to.

use crate::cloud::{CloudError, ErrorKind};

#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Cloud(#[from] CloudError),
    /// The spec asks for something AWS cannot give (a missing existing bucket, ...).
    #[error("{field}: {message}")]
    Spec { field: String, message: String },
    #[error(
        "spec.account.id is {expected} but the credentials act in account {actual}: nothing was written; fix spec.account.id or spec.account.roleArn"
    )]
    AccountMismatch { expected: String, actual: String },
    #[error("spec.kmsKey: {0}")]
    KeyUnusable(String),
    #[error(
        "region {region} is already governed by policy {owner} (older policies own an account+region); remove it from one of the policies"
    )]
    Conflict { region: String, owner: String },
    /// STS refused the role (trust, ExternalId, or the caller's own permissions).
    #[error(
        "{field}: cannot assume {role}: {message}; fix the role's trust policy (it must admit the operator's principal{external}) or {field}"
    )]
    AssumeRoleDenied {
        /// `spec.account.roleArn`, or `spec.accounts.roleName` for a member account.
        field: &'static str,
        role: String,
        external: &'static str,
        message: String,
    },
    /// Bedrock still cannot validate its destinations after the propagation window.
    #[error(
        "Bedrock in {region} cannot write to the policy's destinations ({aws}), 2 minutes after the operator's last permission change: {missing}"
    )]
    DestinationAccess {
        region: String,
        missing: String,
        aws: String,
    },
}

impl EngineError {
    pub fn spec(field: impl Into<String>, message: impl Into<String>) -> Self {
        EngineError::Spec {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, EngineError::Cloud(e) if e.is_transient())
    }

    /// The kstatus Stalled reason for a terminal error (None when transient).
    pub fn stalled_reason(&self) -> Option<&'static str> {
        match self {
            EngineError::Cloud(e) if e.kind == ErrorKind::AccessDenied => Some("AccessDenied"),
            EngineError::Cloud(e) if e.kind == ErrorKind::Invalid => Some("InvalidSpec"),
            EngineError::Cloud(e) if e.kind == ErrorKind::NoEndpoint => Some("InvalidSpec"),
            // Transient, or an AWS error we cannot attribute to the spec: retry, not Stalled.
            EngineError::Cloud(_) => None,
            EngineError::Spec { .. } => Some("InvalidSpec"),
            EngineError::AccountMismatch { .. } => Some("AccountMismatch"),
            EngineError::KeyUnusable(_) => Some("KeyUnusable"),
            EngineError::Conflict { .. } => Some("Conflict"),
            EngineError::AssumeRoleDenied { .. } => Some("AccessDenied"),
            EngineError::DestinationAccess { .. } => Some("AccessDenied"),
        }
    }

    /// Bounded label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            EngineError::Cloud(e) => e.kind.as_label(),
            EngineError::Spec { .. } => "invalid_spec",
            EngineError::AccountMismatch { .. } => "account_mismatch",
            EngineError::KeyUnusable(_) => "key_unusable",
            EngineError::Conflict { .. } => "conflict",
            EngineError::AssumeRoleDenied { .. } => "assume_role_denied",
            EngineError::DestinationAccess { .. } => "destination_access_denied",
        }
    }
}
