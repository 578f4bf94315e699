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
    match &observed.role {
        None => out.push(Change::CreateRole {
            name: name.clone(),
            trust: role_policy::trust_document(input.policy, input.account, &region_names),
        }),
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
        out.push(Change::PutRolePolicy {
            name: name.clone(),
            policy_name: role_policy::inline_policy_name(input.policy),
            document: desired_inline,
        });
    }
    Ok(out)
}
