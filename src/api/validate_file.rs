//! Validation of a policy before any AWS call: the CRD's OpenAPI schema, its CEL rules, then
//! deserialization. Used by the CLI on policy files; the API server does the same for `kubectl`.

use std::sync::OnceLock;

use serde_json::Value;

use super::{BedrockLoggingPolicy, crd::open_api_schema};

#[derive(Debug, thiserror::Error)]
pub enum PolicyFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not valid YAML: {message}")]
    Yaml { path: String, message: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// One problem found in a policy document, with the field it concerns.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(open_api_schema)
}

fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

fn pointer_to_field(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').filter(|s| !s.is_empty()) {
        if seg.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    if out.is_empty() {
        "(document)".into()
    } else {
        out
    }
}

/// A schema error as the API server words it: a missing required field is named by its full
/// path (`spec.s3.bucketName: Required value`), not by its parent object.
fn field_error(e: &jsonschema::ValidationError<'_>) -> FieldError {
    let parent = pointer_to_field(e.instance_path().as_str());
    if let jsonschema::error::ValidationErrorKind::Required { property } = e.kind() {
        let name = property
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| property.to_string());
        let field = if parent == "(document)" {
            name
        } else {
            format!("{parent}.{name}")
        };
        return FieldError {
            message: format!("Required value: set {field}"),
            field,
        };
    }
    FieldError {
        field: parent,
        message: e.to_string(),
    }
}

/// Fields the schema does not know (the API server's strict field validation rejects them;
/// without it they would be silently dropped).
fn unknown_fields(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    match value {
        Value::Object(map) => {
            let Some(props) = schema.get("properties").and_then(Value::as_object) else {
                return;
            };
            for (k, v) in map {
                let field = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match props.get(k) {
                    Some(sub) => unknown_fields(sub, v, &field, errors),
                    None if path.is_empty() && matches!(k.as_str(), "status" | "apiVersion" | "kind" | "metadata") => {}
                    None => errors.push(FieldError {
                        field: field.clone(),
                        message: format!("unknown field \"{k}\": check its spelling against the CRD (kubectl explain blp.{field})"),
                    }),
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    unknown_fields(item_schema, v, &format!("{path}[{i}]"), errors);
                }
            }
        }
        _ => {}
    }
}

/// Validate a whole `BedrockLoggingPolicy` object (as JSON) the way the API server would:
/// schema defaults, OpenAPI schema, then CEL rules. Returns every problem found.
pub fn validate_value(object: &Value) -> Result<Value, Vec<FieldError>> {
    let mut object = object.clone();
    strip_nulls(&mut object);
    let schema = schema();
    let object = kube::core::cel::apply_defaults(schema, &object);

    let mut errors = Vec::new();
    if object.get("apiVersion").and_then(Value::as_str) != Some("bedrocklogging.io/v1alpha1") {
        errors.push(FieldError {
            field: "apiVersion".into(),
            message: "must be bedrocklogging.io/v1alpha1".into(),
        });
    }
    if object.get("kind").and_then(Value::as_str) != Some("BedrockLoggingPolicy") {
        errors.push(FieldError {
            field: "kind".into(),
            message: "must be BedrockLoggingPolicy".into(),
        });
    }
    match jsonschema::validator_for(schema) {
        Ok(validator) => {
            for e in validator.iter_errors(&object) {
                errors.push(field_error(&e));
            }
        }
        Err(e) => errors.push(FieldError {
            field: "(schema)".into(),
            message: format!("internal error compiling the CRD schema: {e}"),
        }),
    }
    unknown_fields(schema, &object, "", &mut errors);
    // CEL rules assume a structurally valid object; skip them when the schema already failed.
    if errors.is_empty()
        && let Err(cel_errors) = kube::core::cel::Validator::new().validate(schema, &object, None)
    {
        for e in cel_errors.iter() {
            errors.push(FieldError {
                field: e.field_path.clone(),
                message: e.message.clone(),
            });
        }
    }
    if errors.is_empty() {
        Ok(object)
    } else {
        Err(errors)
    }
}

/// Parse and validate one policy document.
pub fn parse_policy(text: &str, path: &str) -> Result<BedrockLoggingPolicy, PolicyFileError> {
    let value: Value = serde_yaml::from_str(text).map_err(|e| PolicyFileError::Yaml {
        path: path.into(),
        message: e.to_string(),
    })?;
    let value = validate_value(&value).map_err(|errs| PolicyFileError::Invalid {
        path: path.into(),
        message: errs
            .iter()
            .map(|e| format!("\n  - {e}"))
            .collect::<String>(),
    })?;
    serde_json::from_value(value).map_err(|e| PolicyFileError::Invalid {
        path: path.into(),
        message: e.to_string(),
    })
}

/// Read, parse and validate a policy file.
pub fn load_policy_file(path: &str) -> Result<BedrockLoggingPolicy, PolicyFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| PolicyFileError::Read {
        path: path.into(),
        source,
    })?;
    parse_policy(&text, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Defect: a missing required field was reported against its parent (`spec.s3: "bucketName"
    /// is a required property`); the API server names the field itself.
    #[test]
    fn a_missing_required_field_is_named_by_its_full_path() {
        let text = "apiVersion: bedrocklogging.io/v1alpha1\nkind: BedrockLoggingPolicy\nmetadata: {name: p}\nspec:\n  regions: [us-east-1]\n  kmsKey: {create: {alias: alias/x}}\n  s3: {keyPrefix: logs}\n";
        let err = parse_policy(text, "p.yaml").unwrap_err().to_string();
        assert!(err.contains("spec.s3.bucketName: Required value"), "{err}");
        let text = "apiVersion: bedrocklogging.io/v1alpha1\nkind: BedrockLoggingPolicy\nmetadata: {name: p}\nspec:\n  kmsKey: {create: {alias: alias/x}}\n  s3: {bucketName: bbb}\n";
        let err = parse_policy(text, "p.yaml").unwrap_err().to_string();
        // Neither regions nor allRegions: the rule names both.
        assert!(
            err.contains("spec.regions") && err.contains("spec.allRegions"),
            "{err}"
        );
    }
}
