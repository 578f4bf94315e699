//! [`SdkCloud`]: discovery of regions (EC2, SSM public parameters) and of an organization's
//! member accounts (Organizations), in the client's home region.

use async_trait::async_trait;

use super::*;
use crate::cloud::{Discovery, Organizations};

/// Where AWS publishes the regions of each service.
pub const BEDROCK_REGIONS_PATH: &str =
    "/aws/service/global-infrastructure/services/bedrock/regions";

#[async_trait]
impl Discovery for SdkCloud {
    async fn enabled_regions(&self) -> Result<Vec<String>, CloudError> {
        let out = send!(
            self,
            "ec2",
            "DescribeRegions",
            ov_ec2,
            self.pool.ec2().describe_regions().all_regions(false)
        )
        .await?;
        Ok(out
            .regions()
            .iter()
            .filter(|r| r.opt_in_status() != Some("not-opted-in"))
            .filter_map(|r| r.region_name().map(String::from))
            .collect())
    }

    async fn bedrock_regions(&self) -> Result<Vec<String>, CloudError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = send!(
                self,
                "ssm",
                "GetParametersByPath",
                ov_ssm,
                self.pool
                    .ssm()
                    .get_parameters_by_path()
                    .path(BEDROCK_REGIONS_PATH)
                    .set_next_token(token.clone())
            )
            .await?;
            out.extend(
                page.parameters()
                    .iter()
                    .filter_map(|p| p.value().map(String::from)),
            );
            token = page.next_token().map(String::from);
            if token.is_none() {
                return Ok(out);
            }
        }
    }
}

#[async_trait]
impl Organizations for SdkCloud {
    async fn org_child_units(&self, parent: &str) -> Result<Vec<String>, CloudError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = send!(
                self,
                "organizations",
                "ListOrganizationalUnitsForParent",
                ov_organizations,
                self.pool
                    .organizations()
                    .list_organizational_units_for_parent()
                    .parent_id(parent)
                    .set_next_token(token.clone())
            )
            .await?;
            out.extend(
                page.organizational_units()
                    .iter()
                    .filter_map(|u| u.id().map(String::from)),
            );
            token = page.next_token().map(String::from);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn org_accounts(&self, parent: &str) -> Result<Vec<OrgAccount>, CloudError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = send!(
                self,
                "organizations",
                "ListAccountsForParent",
                ov_organizations,
                self.pool
                    .organizations()
                    .list_accounts_for_parent()
                    .parent_id(parent)
                    .set_next_token(token.clone())
            )
            .await?;
            out.extend(page.accounts().iter().filter_map(|a| {
                Some(OrgAccount {
                    id: a.id()?.to_string(),
                    status: a
                        .status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                })
            }));
            token = page.next_token().map(String::from);
            if token.is_none() {
                return Ok(out);
            }
        }
    }
}
