//! The `BedrockLoggingPolicy` custom resource: spec, status, CRD generation and validation.

pub mod crd;
pub mod rules;
pub mod spec;
pub mod status;
pub mod validate_file;

pub use spec::*;
pub use status::*;
