//! Plan the IAM role Bedrock assumes for CloudWatch delivery (global, shared by all regions).
//! Pure: desired regions + observed role → changes.

use serde_json::Value;

use super::EngineError;
use super::change::Change;
use super::desired::RoleDesired;
use super::observe::RoleObserved;
use crate::policy_doc::role_policy::{self, RoleRegion};
use crate::policy_doc::{canonical, merge_by_sid, parse_document};

pub struct RoleInputs<'a> {
    /// The policy's name: its own trust statement and inline policy on a possibly shared role.
    pub policy: &'a str,
    pub account: &'a str,
    pub role: &'a RoleDesired,
    /// Regions of the policy with a CloudWatch destination.
    pub regions: Vec<RoleRegion>,
}

/// IAM's default quota on a role's trust policy (characters, whitespace not counted).
pub const TRUST_POLICY_LIMIT: usize = 2048;
/// IAM's limit on the inline policies of one role, together (whitespace not counted).
pub const INLINE_POLICIES_LIMIT: usize = 10240;

/// The size IAM counts: the document without whitespace (outside strings: our JSON has none).
pub fn iam_size(doc: &Value) -> usize {
    doc.to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .count()
}

fn check_size(
    doc: &Value,
    limit: usize,
    name: &str,
    what: &str,
    regions: usize,
) -> Result<(), EngineError> {
    let size = iam_size(doc);
    if size <= limit {
        return Ok(());
    }
    Err(EngineError::spec(
        "spec.cloudWatch.roleName",
        format!(
            "the {what} of role {name} would be {size} characters, over IAM's {limit} limit ({regions} region(s) of this policy, plus the statements of other policies sharing the role): give this policy its own spec.cloudWatch.roleName, list fewer regions, or raise the IAM quota; nothing was written"
        ),
    ))
}

/// Before any write of the pass: would the role's trust (ours merged with what is there) fit
/// IAM's limit? It depends only on the regions and the account, not on the keys.
pub fn check_trust_fits(
    policy: &str,
    account: &str,
    role: &RoleDesired,
    regions: &[String],
    observed: &RoleObserved,
) -> Result<(), EngineError> {
    let RoleDesired::Managed { name, .. } = role else {
        return Ok(());
    };
    let ours = role_policy::trust_statement(policy, account, regions);
    let doc = match observed
        .role
        .as_ref()
        .and_then(|i| parse_document(&i.trust_policy).ok())
    {
        Some(current) => merge_by_sid(Some(&current), &[ours]).document,
        None => role_policy::trust_document(policy, account, regions),
    };
    check_size(
        &doc,
        TRUST_POLICY_LIMIT,
        name,
        "trust policy",
        regions.len(),
    )
}

pub fn plan_role(
    input: &RoleInputs<'_>,
    observed: &RoleObserved,
) -> Result<Vec<Change>, EngineError> {
    let RoleDesired::Managed { name, .. } = input.role else {
        // An existing role (spec.cloudWatch.roleArn) is used as is: verify only.
        if observed.role.is_none() {
            return Err(EngineError::spec(
                "spec.cloudWatch.roleArn",
                format!(
                    "role {} does not exist: create it or remove roleArn to let the operator manage a role",
                    input.role.arn()
                ),
            ));
        }
        return Ok(vec![]);
    };
    let region_names: Vec<String> = input.regions.iter().map(|r| r.region.clone()).collect();
    let mut out = Vec::new();
    let n = region_names.len();
    match &observed.role {
        None => {
            let trust = role_policy::trust_document(input.policy, input.account, &region_names);
            check_size(&trust, TRUST_POLICY_LIMIT, name, "trust policy", n)?;
            out.push(Change::CreateRole {
                name: name.clone(),
                trust,
            })
        }
        Some(info) => {
            let current = parse_document(&info.trust_policy).map_err(|e| {
                EngineError::spec(
                    "spec.cloudWatch.roleName",
                    format!("trust policy of role {name} cannot be parsed ({e})"),
                )
            })?;
            let merged = merge_by_sid(
                Some(&current),
                &[role_policy::trust_statement(
                    input.policy,
                    input.account,
                    &region_names,
                )],
            );
            if !merged.is_noop() {
                check_size(
                    &merged.document,
                    TRUST_POLICY_LIMIT,
                    name,
                    "trust policy",
                    n,
                )?;
                out.push(Change::UpdateTrust {
                    name: name.clone(),
                    document: merged.document,
                    summary: merged.changed,
                });
            }
        }
    }
    let current_inline: Option<Value> = observed
        .inline_policy
        .as_deref()
        .and_then(|t| parse_document(t).ok());
    let desired_inline =
        role_policy::inline_document(input.account, &input.regions, current_inline.as_ref());
    if current_inline.as_ref().map(canonical) != Some(canonical(&desired_inline)) {
        check_size(
            &desired_inline,
            INLINE_POLICIES_LIMIT,
            name,
            "inline policy",
            n,
        )?;
        out.push(Change::PutRolePolicy {
            name: name.clone(),
            policy_name: role_policy::inline_policy_name(input.policy),
            document: desired_inline,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy_doc::role_policy::RoleRegion;

    fn inputs<'a>(role: &'a RoleDesired, regions: usize) -> RoleInputs<'a> {
        RoleInputs {
            policy: "p",
            account: "111122223333",
            role,
            regions: (0..regions)
                .map(|i| RoleRegion {
                    region: format!("xx-test-{i}"),
                    log_group: "/aws/bedrock/model-invocation-logs-with-a-long-name".into(),
                    key_arn: Some(format!("arn:aws:kms:xx-test-{i}:111122223333:key/00000000-0000-0000-0000-00000000000{}", i % 10)),
                })
                .collect(),
        }
    }

    /// Defect: a trust policy over IAM's 2,048 characters was written and failed with a raw
    /// LimitExceeded on every pass. Now it is caught before any write, naming the field.
    #[test]
    fn trust_over_the_iam_limit_is_a_spec_error_before_writing() {
        let role = RoleDesired::Managed {
            name: "r".into(),
            arn: "arn:aws:iam::111122223333:role/r".into(),
        };
        let ok = plan_role(&inputs(&role, 4), &RoleObserved::default()).unwrap();
        assert!(matches!(ok[0], Change::CreateRole { .. }));
        let err = plan_role(&inputs(&role, 64), &RoleObserved::default()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("spec.cloudWatch.roleName:"), "{msg}");
        assert!(msg.contains("2048"), "{msg}");
        assert_eq!(err.stalled_reason(), Some("InvalidSpec"));
    }
}
