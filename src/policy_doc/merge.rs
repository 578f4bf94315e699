//! Merge desired statements into an existing policy by `Sid`.
//!
//! Statements without our Sids (foreign statements, including the account-root statement of a
//! key policy) are never removed or reordered; ours are added or replaced in place.

use serde_json::Value;

use super::{empty_document, same_statement, sid, statements};

#[derive(Debug, Clone, PartialEq)]
pub struct MergeOutcome {
    /// The merged document (only meaningful when `changed` is non-empty).
    pub document: Value,
    /// Human-readable description of each statement added or updated.
    pub changed: Vec<String>,
}

impl MergeOutcome {
    pub fn is_noop(&self) -> bool {
        self.changed.is_empty()
    }
}

/// Merge `desired` (each with a `Sid`) into `existing` (None: no policy yet).
pub fn merge_by_sid(existing: Option<&Value>, desired: &[Value]) -> MergeOutcome {
    let mut doc = existing.cloned().unwrap_or_else(empty_document);
    let mut current = statements(&doc);
    let mut changed = Vec::new();
    for want in desired {
        let want_sid = sid(want).unwrap_or_default().to_string();
        match current
            .iter()
            .position(|s| sid(s) == Some(want_sid.as_str()))
        {
            Some(i) if same_statement(&current[i], want) => {}
            Some(i) => {
                current[i] = want.clone();
                changed.push(format!("statement {want_sid} updated"));
            }
            None => {
                current.push(want.clone());
                changed.push(format!("statement {want_sid} added"));
            }
        }
    }
    if let Some(obj) = doc.as_object_mut() {
        obj.entry("Version")
            .or_insert_with(|| Value::String("2012-10-17".into()));
        obj.insert("Statement".into(), Value::Array(current));
    }
    MergeOutcome {
        document: doc,
        changed,
    }
}

/// True when `statement` grants the account root principal (the key-policy lockout guard).
pub fn is_account_root_statement(statement: &Value) -> bool {
    let Some(principal) = statement.get("Principal") else {
        return false;
    };
    let aws = match principal {
        Value::Object(m) => m.get("AWS").cloned().unwrap_or(Value::Null),
        other => other.clone(),
    };
    let matches = |v: &Value| {
        v.as_str()
            .is_some_and(|s| s.ends_with(":root") || s.chars().all(|c| c.is_ascii_digit()))
    };
    match &aws {
        Value::Array(items) => items.iter().any(matches),
        v => matches(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stmt(sid: &str, action: &str) -> Value {
        json!({"Sid": sid, "Effect": "Allow", "Principal": {"Service": "x.amazonaws.com"}, "Action": action, "Resource": "*"})
    }

    #[test]
    fn adds_to_empty_policy() {
        let out = merge_by_sid(None, &[stmt("A", "s3:PutObject")]);
        assert_eq!(out.changed, vec!["statement A added"]);
        assert_eq!(statements(&out.document).len(), 1);
        assert_eq!(out.document["Version"], "2012-10-17");
    }

    #[test]
    fn keeps_foreign_statements_and_order() {
        let existing = json!({"Version": "2012-10-17", "Statement": [stmt("Foreign", "s3:GetObject"), stmt("A", "s3:Old")]});
        let out = merge_by_sid(
            Some(&existing),
            &[stmt("A", "s3:PutObject"), stmt("B", "s3:X")],
        );
        let sids: Vec<_> = statements(&out.document)
            .iter()
            .map(|s| sid(s).unwrap().to_string())
            .collect();
        assert_eq!(sids, vec!["Foreign", "A", "B"]);
        assert_eq!(
            statements(&out.document)[0],
            stmt("Foreign", "s3:GetObject")
        );
        assert_eq!(
            out.changed,
            vec!["statement A updated", "statement B added"]
        );
    }

    #[test]
    fn identical_policy_is_noop_even_when_formatted_differently() {
        let existing = json!({"Version": "2012-10-17", "Statement": {"Sid": "A", "Effect": "Allow", "Principal": {"Service": ["x.amazonaws.com"]}, "Action": ["s3:PutObject"], "Resource": "*"}});
        let out = merge_by_sid(Some(&existing), &[stmt("A", "s3:PutObject")]);
        assert!(out.is_noop(), "{:?}", out.changed);
    }

    #[test]
    fn statement_with_same_grant_under_other_sid_is_kept_and_ours_added() {
        let existing = json!({"Statement": [stmt("TheirName", "s3:PutObject")]});
        let out = merge_by_sid(Some(&existing), &[stmt("A", "s3:PutObject")]);
        assert_eq!(out.changed, vec!["statement A added"]);
        assert_eq!(statements(&out.document).len(), 2);
    }

    #[test]
    fn root_statement_survives_every_merge() {
        let root = json!({"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"});
        let existing = json!({"Statement": [root.clone()]});
        let out = merge_by_sid(Some(&existing), &[stmt("A", "kms:GenerateDataKey")]);
        assert!(
            statements(&out.document)
                .iter()
                .any(is_account_root_statement)
        );
        assert_eq!(statements(&out.document)[0], root);
    }

    #[test]
    fn root_detection() {
        assert!(is_account_root_statement(
            &json!({"Principal": {"AWS": "arn:aws:iam::1:root"}})
        ));
        assert!(is_account_root_statement(
            &json!({"Principal": {"AWS": ["x", "123456789012"]}})
        ));
        assert!(!is_account_root_statement(
            &json!({"Principal": {"Service": "logs.amazonaws.com"}})
        ));
    }
}
