//! AWS errors, classified once at the boundary: transient (retry) or terminal (needs a change).

use std::fmt;

/// What kind of failure an AWS call had. Bounded: used as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Throttling / rate exceeded: retry with backoff.
    Throttled,
    /// 5xx, timeouts, connection failures: retry.
    Unavailable,
    /// Bedrock's "Failed to validate permissions" right after a role/policy change: retry.
    PermissionPropagation,
    /// The resource does not exist.
    NotFound,
    /// Caller lacks permissions: terminal until IAM changes.
    AccessDenied,
    /// AWS rejected the request as invalid: terminal until the spec changes.
    Invalid,
    /// The service has no endpoint in the region (the name does not resolve).
    NoEndpoint,
    /// Anything else AWS returned.
    Other,
}

impl ErrorKind {
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorKind::Throttled | ErrorKind::Unavailable | ErrorKind::PermissionPropagation
        )
    }
    pub fn as_label(self) -> &'static str {
        match self {
            ErrorKind::Throttled => "throttled",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::PermissionPropagation => "permission_propagation",
            ErrorKind::NotFound => "not_found",
            ErrorKind::AccessDenied => "access_denied",
            ErrorKind::Invalid => "invalid",
            ErrorKind::NoEndpoint => "no_endpoint",
            ErrorKind::Other => "other",
        }
    }
}

/// One failed AWS call.
#[derive(Debug, Clone, thiserror::Error)]
pub struct CloudError {
    pub kind: ErrorKind,
    pub service: &'static str,
    pub operation: &'static str,
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for CloudError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} failed", self.service, self.operation)?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl CloudError {
    pub fn new(
        kind: ErrorKind,
        service: &'static str,
        operation: &'static str,
        message: impl Into<String>,
    ) -> Self {
        CloudError {
            kind,
            service,
            operation,
            code: None,
            message: message.into(),
        }
    }
    pub fn is_transient(&self) -> bool {
        self.kind.is_transient()
    }
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }
}

const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "ProvisionedThroughputExceededException",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "BandwidthLimitExceeded",
    "TransactionInProgressException",
];

const UNAVAILABLE_CODES: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServerException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ServiceFailure",
    "KMSInternalException",
    "DependencyTimeoutException",
    "RequestTimeout",
    "RequestTimeoutException",
    "OperationAbortedException",
    "OperationAborted",
    "ConcurrentModificationException",
    "IDPCommunicationError",
    // SQS refuses a queue name for 60 s after that queue's deletion: retry later.
    "QueueDeletedRecently",
    "AWS.SimpleQueueService.QueueDeletedRecently",
];

const ACCESS_DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthorizationError",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "AllAccessDisabled",
];

const NOT_FOUND_CODES: &[&str] = &[
    "NotFoundException",
    "NotFound",
    "NoSuchEntity",
    "NoSuchBucket",
    "NoSuchBucketPolicy",
    "ResourceNotFoundException",
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchPublicAccessBlockConfiguration",
    "OwnershipControlsNotFoundError",
    "TrailNotFoundException",
    "NoSuchTagSet",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
];

/// Classify an AWS error from its code, HTTP status and message.
pub fn classify(code: Option<&str>, status: Option<u16>, message: &str) -> ErrorKind {
    if let Some(code) = code {
        if THROTTLING_CODES.contains(&code) {
            return ErrorKind::Throttled;
        }
        if code == "ValidationException" && is_permission_propagation_message(message) {
            return ErrorKind::PermissionPropagation;
        }
        if UNAVAILABLE_CODES.contains(&code) {
            return ErrorKind::Unavailable;
        }
        if ACCESS_DENIED_CODES.contains(&code) {
            return ErrorKind::AccessDenied;
        }
        if NOT_FOUND_CODES.contains(&code) {
            return ErrorKind::NotFound;
        }
    }
    match status {
        Some(429) => ErrorKind::Throttled,
        Some(s) if s >= 500 => ErrorKind::Unavailable,
        Some(403) => ErrorKind::AccessDenied,
        Some(404) => ErrorKind::NotFound,
        Some(400..=499) => ErrorKind::Invalid,
        _ => ErrorKind::Other,
    }
}

/// A connection failure because the endpoint's name does not resolve: the service is not
/// offered in that region (an opt-in region not enabled, or a service not launched there).
pub fn is_no_endpoint_message(message: &str) -> bool {
    // Only a definite "no such name" (NXDOMAIN), never a temporary resolver failure.
    let m = message.to_ascii_lowercase();
    !m.contains("temporary failure")
        && (m.contains("name or service not known")
            || m.contains("no such host")
            || m.contains("nodename nor servname provided"))
}

/// Bedrock validates destination access at put time; right after a role or policy is created
/// it fails with this message until IAM/S3/KMS changes propagate.
pub fn is_permission_propagation_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("failed to validate permissions") || m.contains("unable to assume role")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unresolvable_endpoint_is_recognised() {
        assert!(is_no_endpoint_message(
            "dispatch failure: io error: client error (Connect): dns error: failed to lookup address information: Name or service not known"
        ));
        assert!(!is_no_endpoint_message(
            "dispatch failure: connection refused"
        ));
        assert!(!is_no_endpoint_message(
            "dns error: failed to lookup address information: Temporary failure in name resolution"
        ));
    }

    #[test]
    fn classification_table() {
        let cases: &[(Option<&str>, Option<u16>, &str, ErrorKind)] = &[
            (
                Some("ThrottlingException"),
                Some(400),
                "",
                ErrorKind::Throttled,
            ),
            (Some("SlowDown"), Some(503), "", ErrorKind::Throttled),
            (None, Some(429), "", ErrorKind::Throttled),
            (Some("InternalError"), Some(500), "", ErrorKind::Unavailable),
            (
                Some("AWS.SimpleQueueService.QueueDeletedRecently"),
                Some(400),
                "You must wait 60 seconds after deleting a queue before you can create another with the same name.",
                ErrorKind::Unavailable,
            ),
            (
                Some("QueueDeletedRecently"),
                Some(400),
                "",
                ErrorKind::Unavailable,
            ),
            (None, Some(503), "", ErrorKind::Unavailable),
            (
                Some("ValidationException"),
                Some(400),
                "Failed to validate permissions for log group: x",
                ErrorKind::PermissionPropagation,
            ),
            (
                Some("ValidationException"),
                Some(400),
                "retention is bad",
                ErrorKind::Invalid,
            ),
            (
                Some("AccessDeniedException"),
                Some(400),
                "",
                ErrorKind::AccessDenied,
            ),
            (Some("AccessDenied"), Some(403), "", ErrorKind::AccessDenied),
            (Some("NoSuchBucket"), Some(404), "", ErrorKind::NotFound),
            (
                Some("ResourceNotFoundException"),
                Some(400),
                "",
                ErrorKind::NotFound,
            ),
            (
                Some("MalformedPolicyDocumentException"),
                Some(400),
                "",
                ErrorKind::Invalid,
            ),
            (None, None, "", ErrorKind::Other),
        ];
        for (code, status, msg, want) in cases {
            assert_eq!(
                classify(*code, *status, msg),
                *want,
                "{code:?} {status:?} {msg}"
            );
            assert_eq!(
                want.is_transient(),
                matches!(
                    want,
                    ErrorKind::Throttled
                        | ErrorKind::Unavailable
                        | ErrorKind::PermissionPropagation
                )
            );
        }
    }
}
