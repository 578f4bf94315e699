//! [`FakeCloud`]: region discovery and Organizations.

use async_trait::async_trait;

use super::*;
use crate::cloud::{Discovery, Organizations};

#[async_trait]
impl Discovery for FakeCloud {
    async fn enabled_regions(&self) -> Result<Vec<String>, CloudError> {
        self.enter("global", "DescribeRegions", "ec2")?;
        Ok(self.st().enabled_regions.clone())
    }

    async fn bedrock_regions(&self) -> Result<Vec<String>, CloudError> {
        self.enter("global", "GetParametersByPath", "ssm")?;
        Ok(self.st().bedrock_regions.clone())
    }
}

impl FakeCloud {
    fn parent(
        &self,
        op: &'static str,
        parent: &str,
    ) -> Result<(Vec<String>, Vec<OrgAccount>), CloudError> {
        self.enter("global", op, "organizations")?;
        self.st()
            .org
            .get(parent)
            .cloned()
            .ok_or_else(|| CloudError {
                kind: ErrorKind::NotFound,
                service: "organizations",
                operation: op,
                code: Some("ParentNotFoundException".into()),
                message: format!("parent {parent} not found"),
            })
    }
}

#[async_trait]
impl Organizations for FakeCloud {
    async fn org_child_units(&self, parent: &str) -> Result<Vec<String>, CloudError> {
        Ok(self.parent("ListOrganizationalUnitsForParent", parent)?.0)
    }

    async fn org_accounts(&self, parent: &str) -> Result<Vec<OrgAccount>, CloudError> {
        Ok(self.parent("ListAccountsForParent", parent)?.1)
    }
}
