//! The `BedrockLoggingPolicy` custom resource: spec, status, CRD generation and validation.

pub mod crd;
pub mod rules;
pub mod spec;
pub mod status;
pub mod validate_file;

pub use spec::*;
pub use status::*;

/// The tag (and label) naming the policy that created an AWS resource.
pub const POLICY_TAG: &str = "bedrocklogging.io/policy";
/// The tag marking AWS resources the operator created.
pub const MANAGED_BY_TAG: &str = "bedrocklogging.io/managed-by";
